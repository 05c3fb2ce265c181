"""An email backend whose server is down: for the never-lose-a-request test."""

import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class Backend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("mail server is down")


class Refusing(BaseEmailBackend):
    """A mail server that refuses the recipient, naming the address in its error."""

    def send_messages(self, email_messages):
        recipients = {address: (550, b"5.1.1 no such user") for m in email_messages for address in m.to}
        raise smtplib.SMTPRecipientsRefused(recipients)
