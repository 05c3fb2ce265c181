"""Deployment checks: keys kept in var/ are for a developer machine only."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def keys_from_environment(app_configs, **kwargs):
    problems = []
    if not settings.SECRET_KEY_FROM_ENV:
        problems.append(
            Error("SECRET_KEY is not set in the environment.", id="dsr.E001",
                  hint="Set SECRET_KEY; the key in var/ is for a developer machine.")
        )
    if not settings.DSR_ENCRYPTION_KEY_FROM_ENV:
        problems.append(
            Error("DSR_ENCRYPTION_KEY is not set in the environment.", id="dsr.E002",
                  hint="Set DSR_ENCRYPTION_KEY (32 bytes, URL-safe base64) and keep it safe: "
                  "without it, stored personal data cannot be read.")
        )
    return problems
