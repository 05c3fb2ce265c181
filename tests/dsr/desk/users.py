"""Desk users for tests: with a role, a confirmed TOTP device, its current code, a personal token."""

from __future__ import annotations

import io

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_otp import devices_for_user
from django_otp.oath import totp

from dsr.core.models import TOTPDevice
from dsr.core.roles import Role, grant

PASSWORD = "secret-pass-123"


def make_user(name, role=None, *, device=True, superuser=False):
    if superuser:
        user = get_user_model().objects.create_superuser(name, f"{name}@corp.example", PASSWORD)
    else:
        user = get_user_model().objects.create_user(name, f"{name}@corp.example", PASSWORD)
    if role:
        grant(user, Role(role))
    if device:
        TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user


def device_of(user):
    """The user's authenticator, found as django-otp finds it at login."""
    return next(devices_for_user(user))


def current_code(user):
    device = device_of(user)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def issue_key(username: str, *options: str) -> str:
    out = io.StringIO()
    call_command("issue_api_token", username, *options, stdout=out)
    return out.getvalue().strip().splitlines()[-1]
