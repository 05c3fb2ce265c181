"""Logging in to the desk and the admin: a password and the code of the user's authenticator.

Both forms count failures per client address and per username, and both take the
code from the user's own confirmed TOTP device, so nobody has to pick a device from
a list first (django-otp asks for that choice when it is not made, and the admin's
first attempt then failed with "Please select a device").
"""

from __future__ import annotations

import time

from django.contrib.auth.views import LoginView
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.forms import OTPAuthenticationForm

from dsr.core.models import TOTPDevice
from dsr.web import ratelimit


class LimitedLogin:
    """A login form that counts failures (password or second factor) per client IP, per
    username and client, and per username. It refuses to check anything once the client, or
    the username from this client, has used up its limit; the username's failures from
    everywhere only slow each attempt down, so a guesser cannot lock its owner out."""

    def clean(self):
        username = str(self.data.get("username", ""))
        if ratelimit.login_blocked(self.request, username):
            raise ValidationError(
                "Too many failed logins. Please wait and try again later.", code="rate_limited"
            )
        delay = ratelimit.login_delay(self.request, username)
        if delay:
            time.sleep(delay)
        try:
            return super().clean()
        except ValidationError:
            ratelimit.count_failed_login(self.request, username)
            raise


class OwnAuthenticator:
    """The device is the user's own confirmed authenticator unless the form names another of theirs."""

    def _chosen_device(self, user):
        return super()._chosen_device(user) or TOTPDevice.objects.filter(user=user, confirmed=True).first()


class DeskAuthenticationForm(LimitedLogin, OwnAuthenticator, OTPAuthenticationForm):
    """Password and TOTP code in one form."""


class AdminLoginForm(LimitedLogin, OwnAuthenticator, OTPAdminAuthenticationForm):
    """The admin's login: the same checks and the same device as the desk's."""


class DeskLoginView(LoginView):
    template_name = "desk/login.html"
    authentication_form = DeskAuthenticationForm
    redirect_authenticated_user = False

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "rate_limited"):
            response.status_code = 429
        return response
