"""The development console's email backend (``EMAIL_URL=consolemail://``, the default):
each email printed once, as a person would read it.

Django's console backend prints the whole MIME message: the HTML copy after the text,
and quoted-printable soft breaks in long lines. Here the text part is printed as it is,
with who it is to and its subject, framed so it stands out in ``make run``'s output.
"""

from __future__ import annotations

from django.core.mail.backends.console import EmailBackend as ConsoleBackend

RULE = "-" * 72


class EmailBackend(ConsoleBackend):
    def write_message(self, message) -> None:
        copies = ", ".join(mimetype for _, mimetype in getattr(message, "alternatives", []))
        lines = [
            f"---- Email {RULE[11:]}",
            f"To: {', '.join(message.to)}",
            f"From: {message.from_email}",
            f"Subject: {message.subject}",
            "",
            message.body.rstrip("\n"),
            "",
            f"(also sent as {copies})" if copies else "",
            RULE,
        ]
        self.stream.write("\n".join(lines) + "\n")
