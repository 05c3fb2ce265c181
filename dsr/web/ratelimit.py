"""Rate limits through Django's cache (Redis in production), via django-ratelimit.

Keys are the client IP or a keyed hash (an email hash, a request id): never an
identifier in clear.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django_ratelimit.core import get_usage, is_ratelimited

from dsr.core.crypto import identifier_hash

# The address a request is counted under when it has none (a Unix socket with no proxy
# header): all such requests share one budget rather than escape the limits.
NO_ADDRESS = "0.0.0.0"  # nosec B104: a rate-limit key, not an address anything binds to


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: Any) -> str:
    """The client's address for rate limits (``RATELIMIT_IP_META_KEY``).

    With ``DSR_TRUSTED_PROXIES`` = n, the address is the n-th entry of X-Forwarded-For
    from the right: the one the outermost trusted proxy saw. Entries left of it are the
    client's to write, so they are never believed. Without proxies, or when the header
    is short or garbled, it is the connection's own address.
    """
    hops = settings.DSR_TRUSTED_PROXIES
    if hops:
        forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            found = _address(forwarded[-hops])
            if found:
                return found
    return _address(request.META.get("REMOTE_ADDR") or "") or NO_ADDRESS


def _django(request: Any) -> Any:
    """The Django request behind a DRF one."""
    return getattr(request, "_request", request)


def _key_fn(key: str | None) -> Any:
    """django-ratelimit's key: the client address (``client_ip``), or a fixed keyed hash."""
    return "ip" if key is None else (lambda _group, _request: key)


class RateLimited(Exception):
    def __init__(self, detail: str | None = None) -> None:
        detail = detail or _("Too many attempts. Please wait and try again later.")
        super().__init__(detail)
        self.detail = detail


def hit(request: Any, *, group: str, rate: str, key: str | None = None) -> bool:
    """Count one hit against ``group``; True when the caller is over ``rate``."""
    return is_ratelimited(_django(request), group=group, key=_key_fn(key), rate=rate, increment=True)


def enforce(request: Any, *limits: tuple[str, str, str | None]) -> None:
    """Count every (group, rate, key) and raise :class:`RateLimited` if any is exceeded."""
    over = [hit(request, group=group, rate=rate, key=key) for group, rate, key in limits]
    if any(over):
        raise RateLimited()


def check_submission(request: Any, email: str) -> None:
    """Filing: per client IP and per email address (by its keyed hash)."""
    enforce(
        request,
        ("submit-ip", settings.DSR_RATE_SUBMIT_PER_IP, None),
        ("submit-email", settings.DSR_RATE_SUBMIT_PER_EMAIL, identifier_hash("email", email)),
    )


def check_verification(request: Any, subject_request: Any) -> None:
    """Code and link attempts: per client IP and per email address."""
    enforce(
        request,
        ("verify-ip", settings.DSR_RATE_VERIFY_PER_IP, None),
        ("verify-email", settings.DSR_RATE_VERIFY_PER_EMAIL, subject_request.email_hash),
    )


def check_resend(request: Any, subject_request: Any) -> None:
    enforce(
        request,
        ("resend-request", settings.DSR_RATE_RESEND_PER_REQUEST, str(subject_request.pk)),
        ("verify-ip", settings.DSR_RATE_VERIFY_PER_IP, None),
    )


def _login_limits(username: str) -> list[tuple[str, str, str | None]]:
    return [
        ("login-ip", settings.DSR_RATE_LOGIN_PER_IP, None),
        ("login-user", settings.DSR_RATE_LOGIN_PER_USER, identifier_hash("username", username.lower())),
    ]


def _login_usage(request: Any, username: str, *, increment: bool) -> list[dict]:
    usages = []
    for group, rate, key in _login_limits(username):
        usage = get_usage(_django(request), group=group, key=_key_fn(key), rate=rate, increment=increment)
        if usage is not None:
            usages.append(usage)
    return usages


def login_blocked(request: Any, username: str) -> bool:
    """Desk and admin logins: True once the client IP or the username has used up its failures."""
    return any(usage["count"] >= usage["limit"] for usage in _login_usage(request, username, increment=False))


def count_failed_login(request: Any, username: str) -> None:
    """A wrong password or a wrong second-factor code: one failure for the IP and the username."""
    _login_usage(request, username, increment=True)
