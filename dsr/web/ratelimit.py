"""Rate limits through Django's cache (Redis in production), via django-ratelimit.

Keys are the client IP or a keyed hash (an email hash, a request id): never an
identifier in clear.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django_ratelimit.core import get_usage

from dsr.core.crypto import identifier_hash
from dsr.core.models import DataSubjectRequest, Status

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
    """Over a limit; ``retry_after`` is the number of seconds until the window that refused ends."""

    def __init__(self, detail: str | None = None, *, retry_after: int = 60) -> None:
        detail = detail or _("Too many attempts. Please wait and try again later.")
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


def _count(request: Any, group: str, rate: str, key: str | None) -> int | None:
    """Count one hit against ``group``: None while within ``rate``, else the seconds left in its window."""
    usage = get_usage(_django(request), group=group, key=_key_fn(key), rate=rate, increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    return max(int(usage["time_left"]), 1)  # -1 when the cache failed (and limits fail closed)


def enforce(request: Any, *limits: tuple[str, str, str | None]) -> None:
    """Count every (group, rate, key) and raise :class:`RateLimited` if any is exceeded."""
    waits = [wait for group, rate, key in limits if (wait := _count(request, group, rate, key)) is not None]
    if waits:
        raise RateLimited(retry_after=max(waits))


def _for_client(request: Any, *parts: str) -> str:
    """A key for the parts together with the client's address: one client's use never spends another's."""
    return identifier_hash("client-key", ":".join([*parts, client_ip(_django(request))]))


def check_submission(request: Any, email: str) -> None:
    """Filing, per client address, and per email address *and* client together.

    The per-address limit counts one client's filings only, so a stranger who files for
    someone else's address never uses up that person's own filings. What a stranger could
    do to that person, flood their mailbox with codes, is bounded separately by
    :func:`check_unconfirmed` (codes sent and never confirmed).
    """
    enforce(
        request,
        ("submit-ip", settings.DSR_RATE_SUBMIT_PER_IP, None),
        ("submit-email-client", settings.DSR_RATE_SUBMIT_PER_EMAIL, _for_client(request, "email", email_key(email))),
    )
    check_unconfirmed(email)


def email_key(email: str) -> str:
    return identifier_hash("email", email)


UNCONFIRMED_WINDOW = timedelta(hours=1)


def check_unconfirmed(email: str) -> None:
    """The one limit per address across all clients, counting only what could harm the person:
    requests filed for the address in the last hour that still wait for their code (each one
    emailed the address). Confirming one takes it out of the count."""
    since = timezone.now() - UNCONFIRMED_WINDOW
    waiting = DataSubjectRequest.objects.filter(
        email_hash=email_key(email), status=Status.AWAITING_VERIFICATION, received_at__gte=since
    ).order_by("received_at").values_list("received_at", flat=True)
    limit = settings.DSR_UNCONFIRMED_PER_EMAIL
    received = list(waiting)
    if len(received) >= limit:  # open again once all but limit - 1 of them are an hour old
        wait = received[len(received) - limit] + UNCONFIRMED_WINDOW - timezone.now()
        raise RateLimited(
            _("We have emailed this address several codes in the last hour that are not confirmed yet. "
              "Use one of those emails, or try again later."),
            retry_after=max(int(wait.total_seconds()), 1),
        )


def check_token(request: Any, kind: str, token_id: str) -> None:
    """Calls by one token of a trusted integration, a connected system or a service account."""
    enforce(request, (f"token-{kind}", settings.DSR_RATE_PER_TOKEN, f"{kind}:{token_id}"))


def check_verification(request: Any, subject_request: Any) -> None:
    """Code and link attempts: per client address, and per request and client together.

    Nothing counts per email address: a stranger's wrong codes for their own request (filed
    with someone else's address) never stop that person from confirming theirs. Guessing a
    request's code stays bounded by its few tries per code and its few new codes an hour.
    """
    enforce(
        request,
        ("verify-ip", settings.DSR_RATE_VERIFY_PER_IP, None),
        ("verify-request-client", settings.DSR_RATE_VERIFY_PER_REQUEST,
         _for_client(request, "request", str(subject_request.pk))),
    )


def check_resend(request: Any, subject_request: Any) -> None:
    enforce(
        request,
        ("resend-request", settings.DSR_RATE_RESEND_PER_REQUEST, str(subject_request.pk)),
        ("verify-ip", settings.DSR_RATE_VERIFY_PER_IP, None),
    )


def _username_key(username: str) -> str:
    return identifier_hash("username", username.lower())


def _login_limits(request: Any, username: str) -> dict[str, tuple[str, str, str | None]]:
    """Failed logins, counted per client, per username and client together (these two refuse),
    and per username from any client (this one only slows each attempt down)."""
    user = _username_key(username)
    return {
        "refuse": ("login-ip", settings.DSR_RATE_LOGIN_PER_IP, None),
        "refuse-user-client": ("login-user-client", settings.DSR_RATE_LOGIN_PER_USER, _for_client(request, user)),
        "slow": ("login-user", settings.DSR_RATE_LOGIN_PER_USER, user),
    }


def _login_usage(request: Any, username: str, *, increment: bool) -> dict[str, dict]:
    usages = {}
    for name, (group, rate, key) in _login_limits(request, username).items():
        usage = get_usage(_django(request), group=group, key=_key_fn(key), rate=rate, increment=increment)
        if usage is not None:
            usages[name] = usage
    return usages


def _used_up(usage: dict) -> bool:
    return usage["count"] >= usage["limit"]


def login_blocked(request: Any, username: str) -> bool:
    """Desk and admin logins: True once this client, or this username from this client, has
    used up its failures. A username's failures from other clients never refuse its owner:
    past their limit each attempt is slowed down instead (:func:`login_delay`)."""
    usages = _login_usage(request, username, increment=False)
    return any(_used_up(usage) for name, usage in usages.items() if name != "slow")


def login_delay(request: Any, username: str) -> float:
    """Seconds to wait before checking a password for ``username``: 0 until the username's
    failures from all clients pass ``DSR_RATE_LOGIN_PER_USER``, then ``DSR_LOGIN_SLOWDOWN_SECONDS``.
    A guesser spread over many addresses gets a few tries a minute; the owner still gets in."""
    usage = _login_usage(request, username, increment=False).get("slow")
    return float(settings.DSR_LOGIN_SLOWDOWN_SECONDS) if usage and _used_up(usage) else 0.0


def count_failed_login(request: Any, username: str) -> None:
    """A wrong password or a wrong second-factor code: one failure for each count."""
    _login_usage(request, username, increment=True)
