"""Email to the person: rendered from templates (text and HTML), one line of subject.

Every email about a request goes out in the request's thread (its References name
the request, so a mail program files our acknowledgement, a question from an
officer and the outcome together) and is logged in ``EmailLog``: which email, when,
and whether the mail server took it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import css_inline
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import make_msgid
from django.db import DatabaseError, IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from . import i18n, law
from .audit import redact
from .branding import absolute_url, brand
from .crypto import identifier_hash
from .models import DataSubjectRequest, EmailLog, EmailSent, EmailStatus

logger = logging.getLogger(__name__)


def absolute(path: str) -> str:
    return f"{settings.DSR_PUBLIC_URL}{path}"


def render(template: str, context: dict[str, Any], language: str | None = None) -> tuple[str, str, str]:
    """Render ``emails/<template>.{subject.txt,txt,html}``: (subject, text, html).

    The subject is collapsed to one line, so nothing a person typed can add a header. An
    email about a request cites that request's law (``law``), never another's. It is written
    in ``language`` (a request's stored language), else the default language, whatever
    language is active where it is rendered (a web request, a worker).
    """
    current = brand()
    context = {
        "organisation": current.organisation,
        "brand": current,
        "logo_url": absolute_url(current.logo_url),
        "privacy_notice_url": absolute_url(current.privacy_notice_url),
        **context,
    }
    with i18n.override(language):
        if "request" in context and "law" not in context:
            context["law"] = law.for_request(context["request"])
        subject = " ".join(render_to_string(f"emails/{template}.subject.txt", context).split())
        text = render_to_string(f"emails/{template}.txt", context)
        html = _INLINER.inline(render_to_string(f"emails/{template}.html", {**context, "subject": subject}))
    return subject[:200], text, html


# The layout's stylesheet goes into style attributes, where every mail program reads it; the
# phone-width @media rules stay in <style> for those that honour them. Nothing is fetched.
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)



def _domain() -> str:
    return urlsplit(settings.DSR_PUBLIC_URL).hostname or "localhost"


def thread_id(request: DataSubjectRequest) -> str:
    """The request's thread: every email about it refers to this id (no email carries it itself)."""
    return f"<dsr-{request.pk}@{_domain()}>"


def deliver(to: str, subject: str, text: str, html: str, headers: dict[str, str] | None = None) -> None:
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to], headers=headers)
    message.attach_alternative(html, "text/html")
    message.send()


def send(
    template: str, *, to: str, context: dict[str, Any] | Callable[[], dict[str, Any]],
    request: DataSubjectRequest | None = None, once: str = "", on_sent: Callable[[], None] | None = None,
) -> bool:
    """Render and send; with ``request``, in its language and thread, and logged, the failure too
    (then raised again).

    With ``once`` (a kind of email the request gets once: ``receipt``, ``outcome_denied``...),
    the email's sent marker is claimed first, and nothing is sent when another task holds it;
    a ``context`` given as a function is made only once the claim is ours (it may issue a code).
    Returns whether this call sent the email. ``on_sent`` (the caller's audit) runs in the
    transaction that marks the email sent, so a worker killed between the two leaves the
    email unmarked (taken over later), never marked sent with its audit missing. The task
    that takes it over looks for the email in the log by its Message-ID (made from the
    claim): if it went, it is marked sent, with its audit, and not sent again. If the log
    cannot tell (killed between the mail server's answer and the log row), it is sent again
    under the same Message-ID, as the same message.
    """
    if request is None:
        deliver(to, *render(template, context() if callable(context) else context))
        return True
    claim, went = _claim(request, once) if once else (None, False)
    if once and claim is None:
        logger.info("email %s of request %s: sent or being sent by another task", once, request.pk)
        return False
    if claim is not None and went:
        logger.warning("email %s of request %s: sent by a task that died before marking it sent; marked now",
                       once, request.pk)
        _mark_sent(claim, on_sent)
        return False
    try:
        _send_in_thread(template, to, context() if callable(context) else context, request,
                        message_id=_claimed_message_id(claim) if claim is not None else None)
    except Exception:
        if claim is not None:  # not sent: a retry may claim it again
            EmailSent.objects.filter(pk=claim.pk, claimed_at=claim.claimed_at, sent_at__isnull=True).delete()
        raise
    _mark_sent(claim, on_sent)
    return True


def _mark_sent(claim: EmailSent | None, on_sent: Callable[[], None] | None) -> None:
    with transaction.atomic():
        if claim is not None:
            EmailSent.objects.filter(pk=claim.pk).update(sent_at=timezone.now())
        if on_sent is not None:
            on_sent()


def _claimed_message_id(claim: EmailSent) -> str:
    """The Message-ID of the email sent under ``claim``, the same for every task that holds it.

    Whoever reads the claim can work it out, so a task that takes over an abandoned claim can
    tell from the log whether its email went. And when the log cannot tell (the worker died
    after the mail server took the email, before the log row), the email sent again is the
    same message (a mailbox such as Gmail's keeps the first of two with one Message-ID).
    """
    token = identifier_hash("email-claim", str(claim.pk))[:32]
    return f"<{token}@{_domain()}>"


def _send_in_thread(template: str, to: str, context: dict[str, Any], request: DataSubjectRequest,
                    *, message_id: str | None = None) -> None:
    subject, text, html = render(template, context, request.language)
    message_id = message_id or make_msgid(domain=_domain())
    headers = {"Message-ID": message_id, "In-Reply-To": thread_id(request), "References": thread_id(request)}
    log = EmailLog(request=request, template=template, subject=subject, message_id=message_id)
    try:
        deliver(to, subject, text, html, headers)
    except Exception as exc:
        _keep(log, EmailStatus.FAILED, redact(f"{type(exc).__name__}: {exc}")[:500])
        raise
    _keep(log, EmailStatus.SENT)


def _alone() -> AbstractContextManager[Any]:
    """For one INSERT that may fail: a savepoint inside a caller's transaction, so that the failure
    leaves it usable; outside one nothing, as the statement is a transaction of its own (one round
    trip, not three)."""
    return transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()


def _claim(request: DataSubjectRequest, kind: str) -> tuple[EmailSent | None, bool]:
    """Claim the sent marker of (request, kind): (the claim, or None when another task holds it or
    sent it; whether the email went already, sent by a claimer that died before marking it)."""
    now = timezone.now()
    try:
        with _alone():
            claim = EmailSent.objects.create(request=request, kind=kind, claimed_at=now)
    except IntegrityError:
        pass
    else:
        return claim, False
    # Taken over only from a claimer that never marked it sent and has long gone (died mid-send).
    abandoned = now - timedelta(seconds=settings.DSR_EMAIL_CLAIM_SECONDS)
    stale = EmailSent.objects.filter(request=request, kind=kind, sent_at__isnull=True, claimed_at__lt=abandoned).first()
    if stale is None:
        return None, False
    if not EmailSent.objects.filter(pk=stale.pk, claimed_at=stale.claimed_at, sent_at__isnull=True).update(
        claimed_at=now
    ):
        return None, False  # another task took it over first
    stale.claimed_at = now
    # The claimer may have died after the email went and was logged, before it was marked sent:
    # then it is marked, not sent again.
    return stale, EmailLog.objects.filter(
        request=request, message_id=_claimed_message_id(stale), status=EmailStatus.SENT
    ).exists()


def _keep(log: EmailLog, status: str, error: str = "") -> None:
    """Write the log row; a database that fails now must not fail the task: once the email has
    gone, a retried task (or the sweep, seeing no acknowledgement) would send it twice."""
    log.status, log.error = status, error
    try:
        with _alone():
            log.save(force_insert=True)
    except DatabaseError:
        logger.warning("email %s of request %s: not logged (database error)", log.template, log.request_id,
                       exc_info=True)
