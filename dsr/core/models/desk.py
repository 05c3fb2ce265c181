"""The officers' own records: authenticators, personal API tokens, notes and reply templates."""

from __future__ import annotations

import time
import uuid
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.util import random_hex

from ..fields import EncryptedJSONField


def new_totp_key() -> str:
    """A fresh secret: 20 random bytes in hex, as django-otp makes them."""
    return random_hex(20)


class TOTPDevice(TimestampMixin, ThrottlingMixin, Device):
    """A desk user's authenticator (TOTP): django-otp's TOTP device with its secret encrypted.

    The fields and their meaning are those of ``django_otp.plugins.otp_totp`` (whose table kept
    the key in clear); the codes are django-otp's own (``django_otp.oath.TOTP``). django-otp
    finds the device because it subclasses ``Device`` in an installed app. The secret leaves
    the product once, as the otpauth:// URI ``desk_user`` prints when it creates the device.
    """

    key = EncryptedJSONField(default=new_totp_key, editable=False,
                             help_text="the secret (hex), encrypted at rest; never shown")
    step = models.PositiveSmallIntegerField(default=30, help_text="The time step in seconds.")
    t0 = models.BigIntegerField(default=0, help_text="The Unix time at which to begin counting steps.")
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6,
                                              help_text="The number of digits to expect in a token.")
    tolerance = models.PositiveSmallIntegerField(
        default=1, help_text="The number of time steps in the past or future to allow.")
    drift = models.SmallIntegerField(
        default=0, help_text="The number of time steps the prover is known to deviate from our clock.")
    last_t = models.BigIntegerField(
        default=-1, help_text="The time step of the last verified token: the next must be later.")

    class Meta(Device.Meta):
        verbose_name = "TOTP device"

    @property
    def bin_key(self) -> bytes:
        return unhexlify(self.key.encode())

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    def verify_token(self, token) -> bool:
        """As django-otp's TOTP device: throttled, a code is good once, and drift is learned."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            token = int(token)
        except (TypeError, ValueError):
            verified = False
        else:
            totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
            totp.time = time.time()
            verified = totp.verify(token, self.tolerance, self.last_t + 1)
            if verified:
                self.last_t = totp.t()
                if getattr(settings, "OTP_TOTP_SYNC", True):
                    self.drift = totp.drift
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified

    @property
    def config_url(self) -> str:
        """The otpauth:// URI for an authenticator app (it holds the secret: enrolment only)."""
        label = self.user.get_username()
        params = urlencode({"secret": b32encode(self.bin_key), "algorithm": "SHA1", "digits": self.digits,
                            "period": self.step})
        issuer = str(getattr(settings, "OTP_TOTP_ISSUER", "") or "").replace(":", "")
        if issuer:
            label = f"{issuer}:{label}"
            params += f"&issuer={quote(issuer)}"
        return f"otpauth://totp/{quote(label)}?{params}"
from .requests import DataSubjectRequest


class ApiToken(models.Model):
    """An officer's personal token for scripts (``Authorization: Token <key>``), stored hashed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)


class Note(models.Model):
    """An officer's internal note on a request (never shown to the person)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(DataSubjectRequest, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    # Officers write about the person here (a phone call, an ID document seen...): encrypted.
    text = EncryptedJSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]


class ReplyTemplate(models.Model):
    """Editable wording for answers (denial reasons, extensions, messages), kept by administrators."""

    name = models.CharField(max_length=100, unique=True)
    purpose = models.CharField(max_length=16, choices=[
        ("deny", "Denial"), ("extend", "Extension"), ("message", "Message to the person")])
    text = models.TextField()

    class Meta:
        ordering = ["purpose", "name"]

    def __str__(self) -> str:
        return self.name
