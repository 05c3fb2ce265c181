"""Public pages: the request form, verification, and the person's status page."""

from __future__ import annotations

from urllib.parse import parse_qsl

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from dsr.core import i18n, law, queue, selectors, tokens
from dsr.core.models import Status
from dsr.core.queue import Task
from dsr.core.selectors import next_step, request_by_reference
from dsr.intake import verification, withdrawal
from dsr.intake.forms import CodeForm, RequestForm
from dsr.intake.submission import submit_request
from dsr.results import access
from dsr.web import ratelimit
from dsr.web.http import zip_response


def _in_its_language(request: HttpRequest, subject_request) -> None:
    """A request's own pages speak the language it was filed in, unless the person has chosen
    one with the switcher since (its cookie)."""
    if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
        return
    request.LANGUAGE_CODE = i18n.supported(subject_request.language)
    translation.activate(request.LANGUAGE_CODE)


def _status_url(request_obj) -> str:
    return tokens.status_path(request_obj)


def _to_status_page(subject_request) -> HttpResponse:
    """Just verified: on to the status page, its token in the cookie rather than the address."""
    return _keep_token(redirect("dsr:status", reference=subject_request.reference), subject_request)


def _sent_as_utf8(request: HttpRequest) -> bool:
    """Whether a form body is UTF-8, as browsers send it; Django would read other bytes as U+FFFD."""
    if request.content_type != "application/x-www-form-urlencoded":
        return True
    try:
        parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return False
    return True


@require_http_methods(["GET", "POST"])
def request_form(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("step") == "kind":
        # Without JavaScript: once the kind is chosen, show what it needs; nothing else is checked yet.
        form = RequestForm(initial=request.POST.dict())
        if form.chosen["kind"]:
            return render(request, "dsr/request_form.html", {"form": form})
        form.refuse_kind()
        return render(request, "dsr/request_form.html", {"form": form}, status=400)
    form = RequestForm(request.POST or None, initial={"kind": request.GET.get("kind", "")})
    if request.method == "POST" and not _sent_as_utf8(request):
        form.add_error(None, _("The form arrived in a character encoding we cannot read. Please send it again."))
    if request.method == "POST" and form.is_valid():
        sub = form.submission
        sub.language = i18n.current()  # the switcher's choice, else Accept-Language
        try:
            ratelimit.check_submission(request, sub.email)
        except ratelimit.RateLimited as exc:
            form.add_error(None, exc.detail)
            return _limited(render(request, "dsr/request_form.html", {"form": form}), exc)
        created = submit_request(sub)
        messages.success(
            request,
            _("Thank you. Your request %(reference)s is recorded. "
              "We have emailed you a 6-digit code to confirm it is you.") % {"reference": created.reference},
        )
        return redirect("dsr:verify", reference=created.reference)
    status = 400 if request.method == "POST" else 200
    return render(request, "dsr/request_form.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, reference: str) -> HttpResponse:
    # The same page and answers whatever the request's state: a reference alone reveals nothing.
    subject_request = request_by_reference(reference)
    _in_its_language(request, subject_request)
    form = CodeForm(request.POST or None)
    status, limited = 200, None
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                ratelimit.check_verification(request, subject_request)
                verified = verification.verify_by_reference(subject_request, code=form.cleaned_data["code"])
            except ratelimit.RateLimited as exc:
                form.add_error("code", exc.detail)
                limited = exc
            except verification.VerificationError as exc:
                form.add_error("code", exc.detail)
                status = exc.status
            else:
                _thank(request, verified)
                return _to_status_page(verified)
    page = render(request, "dsr/verify.html", {"form": form, "subject_request": subject_request}, status=status)
    return _limited(page, limited)


def _limited(response: HttpResponse, exc: ratelimit.RateLimited | None) -> HttpResponse:
    """A page refused by a rate limit: 429, and when to try again."""
    if exc is not None:
        response.status_code = 429
        response["Retry-After"] = str(exc.retry_after)
    return response


def _thank(request: HttpRequest, verified) -> None:
    """What the person sees once confirmed: not "verified" alone when the request was folded into another."""
    if verified.status == Status.CANCELLED:
        messages.success(request, _("Thank you for confirming. You already have this request with us: see below."))
    else:
        messages.success(request, _("Thank you: you are verified."))


@require_http_methods(["GET", "POST"])
def verify_link(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    """GET shows a button; only the POST verifies, so mail scanners that follow links don't."""
    subject_request = request_by_reference(reference)
    _in_its_language(request, subject_request)
    if subject_request.status != Status.AWAITING_VERIFICATION and verification.genuine_link(subject_request, token):
        # Only the holder of a link we emailed learns that it needs no code now; anyone else,
        # with a reference and a made-up link, sees the same page whatever the request's state.
        return render(request, "dsr/verify_done.html", {"subject_request": subject_request}, status=200)
    error, limited = None, None
    if request.method == "POST":
        try:
            ratelimit.check_verification(request, subject_request)
            verified = verification.verify_by_reference(subject_request, link_token=token)
        except ratelimit.RateLimited as exc:
            error, limited = exc.detail, exc
        except verification.VerificationError as exc:
            error = exc.detail
        else:
            _thank(request, verified)
            return _to_status_page(verified)
    page = render(request, "dsr/verify_link.html", {"subject_request": subject_request, "error": error},
                  status=400 if error else 200)
    return _limited(page, limited)


@require_POST
def resend(request: HttpRequest, reference: str) -> HttpResponse:
    subject_request = request_by_reference(reference)
    _in_its_language(request, subject_request)
    # The same answer whether or not the request still needs a code.
    _send_code(request, subject_request, Task.SEND_VERIFICATION, gettext(verification.CODE_RESENT),
               send=subject_request.status == Status.AWAITING_VERIFICATION)
    return redirect("dsr:verify", reference=subject_request.reference)


def _send_code(request: HttpRequest, subject_request, task, sent: str, *, send: bool = True) -> None:
    """Queue a code email (if ``send``), within the resend limit; the page says which happened."""
    try:
        ratelimit.check_resend(request, subject_request)
    except ratelimit.RateLimited:
        messages.error(request, _("We have sent several codes already. Please wait before asking again."))
    else:
        if send:
            queue.enqueue(task, str(subject_request.pk))
        messages.success(request, sent)


def _with_token(request: HttpRequest, reference: str, token: str | None = None):
    """The person's own request, or None: the status token (the form's or an older email's
    ``?t=``, else the cookie the status link set) must be for this very request."""
    if token is None:
        token = request.POST.get("t") or request.GET.get("t") or request.COOKIES.get(tokens.COOKIE, "")
    try:
        subject_request = request_by_reference(reference)
    except Http404:
        return None, token
    if not tokens.check_status_token(subject_request, token):
        return None, token
    _in_its_language(request, subject_request)
    return subject_request, token


def _keep_token(response: HttpResponse, subject_request) -> HttpResponse:
    """A fresh status token in an HttpOnly cookie that only this request's pages receive."""
    response.set_cookie(
        tokens.COOKIE, tokens.status_token(subject_request), max_age=settings.DSR_STATUS_LINK_DAYS * 86400,
        path=tokens.status_cookie_path(subject_request), secure=settings.SESSION_COOKIE_SECURE,
        httponly=True, samesite="Lax",
    )
    return response


@require_safe
def open_status(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    """The link in every email: keeps the token in a cookie and moves on to the token-free page,
    so the token is in no later address (access logs, ``Referer``, the browser's history)."""
    subject_request, _token = _with_token(request, reference, token)
    if subject_request is None:
        return render(request, "dsr/status_denied.html", status=404)
    return _keep_token(redirect("dsr:status", reference=subject_request.reference), subject_request)


def status(request: HttpRequest, reference: str) -> HttpResponse:
    subject_request, token = _with_token(request, reference)
    if subject_request is None:
        return render(request, "dsr/status_denied.html", status=404)
    # ``?t=`` still opens it: the links in emails sent before status links opened as above.
    return _keep_token(_status_page(request, subject_request, token), subject_request)


# Where an open request is on the way the status page lists: confirm, review, work, answer.
_STEP = {
    Status.RECEIVED: 0, Status.AWAITING_VERIFICATION: 0, Status.VERIFIED: 1,
    Status.APPROVED: 2, Status.IN_PROGRESS: 2, Status.REVIEW: 3,
}


def _status_page(request: HttpRequest, subject_request, token: str, *, form=None, status: int = 200):
    item = selectors.current_bundle(subject_request)
    return render(
        request,
        "dsr/status.html",
        {
            "subject_request": subject_request,
            "step": _STEP.get(subject_request.status),
            "can_cancel": withdrawal.can_withdraw(subject_request),
            "law": law.for_request(subject_request),
            "next_step": next_step(subject_request),
            "other_url": _status_url(subject_request.duplicate_of)
            if subject_request.duplicate_of and subject_request.outcome in ("duplicate", "merged") else "",
            "token": token,
            "bundle": item if item and item.available else None,
            "expired_bundle": item is not None and not item.available,
            "code_form": form or CodeForm(),
        },
        status=status,
    )


@require_POST
def download_code(request: HttpRequest, reference: str) -> HttpResponse:
    subject_request, _token = _with_token(request, reference)
    if subject_request is None:
        return render(request, "dsr/status_denied.html", status=404)
    item = selectors.current_bundle(subject_request)
    if item is None or not item.available:
        messages.error(request, _("There is no download for this request, or its link has expired."))
    else:
        _send_code(request, subject_request, Task.SEND_DOWNLOAD_CODE,
                   _("We have emailed you a download code. It works once."))
    return redirect(f"{reverse('dsr:status', args=[subject_request.reference])}#download")


@require_POST
def download(request: HttpRequest, reference: str) -> HttpResponse:
    subject_request, token = _with_token(request, reference)
    if subject_request is None:
        return render(request, "dsr/status_denied.html", status=404)
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _status_page(request, subject_request, token, form=form, status=400)
    try:
        ratelimit.check_verification(request, subject_request)
        verification.check_download_code(subject_request, form.cleaned_data["code"])
        item, chunks = access.open_download(subject_request)
    except (ratelimit.RateLimited, verification.VerificationError, access.NotReady) as exc:
        form.add_error("code", getattr(exc, "detail", None) or str(exc))
        page = _status_page(request, subject_request, token, form=form, status=getattr(exc, "status", 400))
        return _limited(page, exc if isinstance(exc, ratelimit.RateLimited) else None)
    return zip_response(subject_request, item, chunks)



@require_POST
def cancel(request: HttpRequest, reference: str) -> HttpResponse:
    """The person withdraws their request from its status page; only before work has started."""
    subject_request, token = _with_token(request, reference)
    if subject_request is None:
        return render(request, "dsr/status_denied.html", status=404)
    try:
        withdrawal.withdraw(subject_request)
    except withdrawal.TooLate:
        messages.error(request, _("Work on this request has started, so it can no longer be cancelled here. "
                                  "Write to our privacy team if you want it stopped."))
    else:
        messages.success(request, _("Your request is cancelled. We will do nothing more with it."))
    return redirect(f"{reverse('dsr:status', args=[subject_request.reference])}?t={token}")
