"""Proving identity: one-time codes and signed links.

Codes are six digits, stored only as a keyed hash, expire, and allow a fixed
number of tries before a new one must be asked for. Links and status tokens are
signed with SECRET_KEY (Django's signing) and expire (the status token: ``dsr.core.tokens``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, ngettext
from django.utils.translation import gettext as _

from dsr.core import audit, deadlines, lifecycle, queue
from dsr.core.audit import Actor
from dsr.core.crypto import code_hash, constant_time_equal
from dsr.core.errors import PublicError
from dsr.core.models import ActorType, DataSubjectRequest, Kind, Status, Verification
from dsr.core.queue import Task
from dsr.core.selectors import same_under_way
from dsr.engine import fanout
from dsr.results import rectification

_LINK_SALT = "dsr.verification-link"
# What a resend answers, whether or not the request still needed a code (marked for translation).
CODE_RESENT = gettext_noop(
    "If this request still needs its code, a new one is on its way to the email address given. "
    "Earlier codes no longer work."
)
_PAST_VERIFICATION = {Status.VERIFIED, Status.APPROVED, Status.IN_PROGRESS, Status.REVIEW}


class VerificationError(PublicError):
    """A refused verification; ``code`` is the API error code, ``status`` the HTTP status."""

    code = "verification_failed"


class WrongCode(VerificationError):
    code = "wrong_code"


class CodeExpired(VerificationError):
    code = "code_expired"


class CodeLocked(VerificationError):
    """Not a 429: waiting does not help, only a new code does."""

    code = "code_locked"


class CodeUsed(VerificationError):
    code = "code_used"


class NotAwaitingVerification(VerificationError):
    code = "not_awaiting_verification"
    status = 409


class BadLink(VerificationError):
    code = "bad_link"


class NotAccepted(VerificationError):
    """The one refusal shown to whoever holds only a reference: wrong, used, expired or locked
    code, bad link, or a request that needs no code all read alike, so a reference alone
    never tells whether (or how) a request was verified."""

    code = "code_not_accepted"


def not_accepted() -> NotAccepted:
    return NotAccepted(
        gettext(
            "That code or link did not work: it may be mistyped, used already or out of date, "
            "or have been tried too often. Use the latest email, or ask for a new code."
        )
    )


def verify_by_reference(
    request: DataSubjectRequest, *, code: str | None = None, link_token: str | None = None
) -> DataSubjectRequest:
    """Verify with the emailed code or link token; every refusal is :func:`not_accepted`."""
    try:
        if code:
            return verify_code(request, code)
        return verify_link(request, link_token or "")
    except VerificationError as exc:
        raise not_accepted() from exc


@dataclass(frozen=True)
class IssuedCode:
    verification: Verification
    code: str

    @property
    def link_token(self) -> str:
        return signing.dumps({"v": str(self.verification.pk)}, salt=_LINK_SALT, compress=True)


def issue_code(request: DataSubjectRequest, *, purpose: str = "verify") -> IssuedCode:
    """A new code for ``request``; any earlier unused code for the same purpose stops working."""
    code = f"{secrets.randbelow(10**6):06d}"
    now = timezone.now()
    with transaction.atomic():
        Verification.objects.filter(
            request=request, purpose=purpose, used_at__isnull=True, superseded=False
        ).update(superseded=True)
        verification = Verification(
            request=request,
            purpose=purpose,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.DSR_CODE_TTL_MINUTES),
        )
        verification.code_hash = code_hash(str(verification.pk), code)
        verification.save(force_insert=True)
        audit.record(
            "verification.code_issued",
            actor=Actor.scheduler(),
            request=request,
            details={"expires_at": verification.expires_at.isoformat(), "purpose": purpose},
        )
    return IssuedCode(verification, code)


def _current(request: DataSubjectRequest) -> Verification:
    if request.status in _PAST_VERIFICATION or request.verified_at:
        raise CodeUsed(_("This request is already verified."))
    if request.status != Status.AWAITING_VERIFICATION:
        raise NotAwaitingVerification(_("This request is %(status)s.") % {"status": request.get_status_display().lower()})
    verification = (
        Verification.objects.filter(request=request, superseded=False, purpose="verify")
        .order_by("-created_at")
        .first()
    )
    if verification is None:
        raise CodeExpired(_("No code has been sent yet, or it was replaced; ask for a new one."))
    return verification


def _usable(verification: Verification) -> None:
    if verification.used_at:
        raise CodeUsed(_("This code has already been used."))
    if verification.attempts >= settings.DSR_CODE_MAX_ATTEMPTS:
        raise CodeLocked(_("Too many wrong tries for this code. Ask for a new code."))
    if verification.expires_at <= timezone.now():
        raise CodeExpired(_("This code has expired. Ask for a new code."))


def _spend_attempt(
    request: DataSubjectRequest, verification: Verification, code: str, *, failed_verb: str
) -> None:
    """Count one try against ``verification`` and raise unless ``code`` is its code."""
    _usable(verification)
    limit = settings.DSR_CODE_MAX_ATTEMPTS
    counted = Verification.objects.filter(pk=verification.pk, attempts__lt=limit).update(
        attempts=F("attempts") + 1
    )
    if not counted:
        raise CodeLocked(_("Too many wrong tries for this code. Ask for a new code."))
    expected = code_hash(str(verification.pk), code.strip())
    if not constant_time_equal(expected, verification.code_hash):
        remaining = limit - verification.attempts - 1
        audit.record(
            failed_verb,
            actor=Actor.subject(),
            request=request,
            details={"attempt": verification.attempts + 1, "remaining": max(remaining, 0)},
        )
        if remaining <= 0:
            raise CodeLocked(_("That code is wrong, and it has now been locked. Ask for a new code."))
        raise WrongCode(ngettext("That code is wrong. %(count)d try left.", "That code is wrong. %(count)d tries left.",
                                  remaining) % {"count": remaining})


def verify_code(request: DataSubjectRequest, code: str) -> DataSubjectRequest:
    """Check ``code``; on success the request becomes verified."""
    verification = _current(request)
    _spend_attempt(request, verification, code, failed_verb="verification.failed")
    return _mark_verified(request, verification, method="code")


def check_download_code(request: DataSubjectRequest, code: str) -> None:
    """A fresh emailed code before each download: proves the person still holds the address."""
    verification = (
        Verification.objects.filter(request=request, superseded=False, purpose="download")
        .order_by("-created_at")
        .first()
    )
    if verification is None:
        raise CodeExpired(_("Ask for a download code first."))
    _spend_attempt(request, verification, code, failed_verb="download.code_failed")
    if not Verification.objects.filter(pk=verification.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    ):
        raise CodeUsed(_("This code has already been used."))


def verify_link(request: DataSubjectRequest, token: str) -> DataSubjectRequest:
    """Verify ``request`` through the signed link from its email (and no other request's)."""
    try:
        payload = signing.loads(
            token, salt=_LINK_SALT, max_age=timedelta(minutes=settings.DSR_CODE_TTL_MINUTES)
        )
        verification = Verification.objects.select_related("request").get(pk=payload["v"])
    except signing.SignatureExpired as exc:
        raise CodeExpired(_("This link has expired. Ask for a new code.")) from exc
    except (signing.BadSignature, Verification.DoesNotExist, KeyError, TypeError, ValueError) as exc:
        raise BadLink(_("This link is not valid.")) from exc
    if verification.request_id != request.pk:
        raise BadLink(_("This link belongs to another request."))
    current = _current(request)
    if current.pk != verification.pk:
        raise CodeExpired(_("A newer code was sent; use the latest email."))
    _usable(verification)
    return _mark_verified(request, verification, method="link")


def genuine_link(request: DataSubjectRequest, token: str) -> bool:
    """Whether ``token`` is a link we emailed for ``request`` (expired or used, it still proves
    its holder read that email, unlike a reference alone)."""
    try:
        payload = signing.loads(token, salt=_LINK_SALT)
        return Verification.objects.filter(pk=payload["v"], request=request).exists()
    except (signing.BadSignature, KeyError, TypeError, ValueError, ValidationError):
        return False


def verified_fields(request: DataSubjectRequest) -> dict:
    """verified_at, and the clock restarted where the regime counts from verification."""
    now = timezone.now()
    fields = {"verified_at": now}
    if deadlines.rule_for(request.regime).clock_starts == "verification":
        today = timezone.localdate(now)
        fields.update(clock_started_on=today, due_on=deadlines.due_date(request.regime, today))
    return fields


def _mark_verified(
    request: DataSubjectRequest, verification: Verification, *, method: str
) -> DataSubjectRequest:
    fields = verified_fields(request)
    with transaction.atomic():
        used = Verification.objects.filter(pk=verification.pk, used_at__isnull=True).update(
            used_at=fields["verified_at"]
        )
        if not used:
            raise CodeUsed(_("This code has already been used."))
        request.refresh_from_db()
        lifecycle.transition(
            request,
            Status.VERIFIED,
            actor=Actor.subject(),
            details={"method": method, "due_on": fields.get("due_on", request.due_on).isoformat()},
            fields=fields,
        )
        after_verified(request)
    return request


AUTO_APPROVAL = Actor(ActorType.SCHEDULER, "auto-approval")


def after_verified(request: DataSubjectRequest, *, auto_approve: bool = False, others_open: bool = True) -> None:
    """Merge or close a duplicate, or start the work when approval is automatic for this kind.

    ``others_open=False``: the caller has just looked, in this transaction, and the person had
    no other open request of this kind, so there is no duplicate to look for again.
    """
    alone = not others_open or not _close_if_duplicate(request)
    if request.status != Status.VERIFIED:
        return
    if request.kind == Kind.RECTIFICATION:
        queue.on_commit(Task.READ_CURRENT, str(request.pk))  # what the officer decides against
        return  # an officer decides each correction first
    if approved_at_once(request, auto_approve=auto_approve):
        fanout.approve(request, actor=AUTO_APPROVAL, reason="auto", alone=alone)


def approved_at_once(request: DataSubjectRequest, *, auto_approve: bool = False) -> bool:
    """Whether a verified request is approved without an officer: never a correction (an officer
    decides each one), otherwise when its integration says so or its kind is approved automatically."""
    return request.kind != Kind.RECTIFICATION and (auto_approve or request.kind in settings.DSR_AUTO_APPROVE_KINDS)


def _close_if_duplicate(request: DataSubjectRequest) -> bool:
    """The same person already has this kind of request verified: one is worked, never both.

    Whichever was filed first, the one verified first is the one worked. A later one is
    closed as its duplicate; a correction request is merged into it while its corrections
    are still to be decided, and otherwise waits (``fanout.approve`` refuses it) until the
    first has closed, when it is decided against the values the first one left.
    Returns whether the person has another such request under way.
    """
    original = same_under_way(request)
    if original is None:
        return False
    if request.kind != Kind.RECTIFICATION:
        lifecycle.transition(
            request,
            Status.CANCELLED,
            actor=Actor.subject(),
            details={"reason": "duplicate", "duplicate_of": original.reference},
            fields={"outcome": "duplicate", "duplicate_of": original},
        )
    elif original.status == Status.VERIFIED:
        rectification.merge_into(original, request, actor=Actor.subject())
    elif request.duplicate_of_id != original.pk:
        DataSubjectRequest.objects.filter(pk=request.pk).update(duplicate_of=original)
        request.duplicate_of = original
        audit.record("request.linked", actor=Actor.subject(), request=request,
                     details={"duplicate_of": original.reference, "waits": True})
    return True

