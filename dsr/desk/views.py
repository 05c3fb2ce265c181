"""The officers' desk: the queue, a request on one page, and every action as a plain form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.views import LoginView
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp.forms import OTPAuthenticationForm

from .. import closing, erasure, execution, rectification, results
from ..audit import Actor
from ..lifecycle import InvalidTransition
from ..models import (
    ConnectorJob,
    DataSubjectRequest,
    ErasureGround,
    Kind,
    Regime,
    ReplyTemplate,
    Status,
    SystemConnection,
)
from . import actions
from .auth import desk_page
from .queries import QueueFilter, days_left, queue, urgency
from .roles import CAN_ACT, Role

REFUSALS = (
    InvalidTransition,
    execution.NotReadyToApprove,
    rectification.DecisionRefused,
    erasure.ExceptionRefused,
    results.NotReady,
    closing.CannotClose,
    actions.ActionRefused,
)
PAGE_SIZES = (25, 50, 100, 200)


class DeskLoginView(LoginView):
    """Password and the TOTP code in one form (django-otp)."""

    template_name = "desk/login.html"
    authentication_form = OTPAuthenticationForm
    redirect_authenticated_user = False


def officers() -> list[Any]:
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[Role.OFFICER, Role.ADMINISTRATOR])
        .distinct()
        .order_by("username")
    )


@desk_page()
def queue_page(request: HttpRequest) -> HttpResponse:
    params = request.GET.copy()
    if params.get("mine"):
        params["assignee"] = "me"
    f, errors = QueueFilter.from_params(params)
    if errors:
        f = QueueFilter()
    try:
        size = int(request.GET.get("size", 50))
    except ValueError:
        size = 50
    size = size if size in PAGE_SIZES else 50
    page = Paginator(queue(f, user=request.user), size).get_page(request.GET.get("page"))
    rows = [{"r": r, "days_left": days_left(r), "urgency": urgency(r)} for r in page.object_list]
    query = params.copy()
    query.pop("page", None)
    return render(request, "desk/queue.html", {
        "page": page, "rows": rows, "f": f, "errors": errors, "size": size, "sizes": PAGE_SIZES,
        "statuses": Status.choices, "kinds": Kind.choices, "regimes": Regime.choices,
        "officers": officers(), "query": query.urlencode(), "can_act": request.desk_role in CAN_ACT,
    }, status=400 if errors else 200)


@desk_page()
def request_page(request: HttpRequest, request_id: str) -> HttpResponse:
    subject_request = get_object_or_404(DataSubjectRequest.objects.select_related("assignee", "duplicate_of"),
                                        pk=request_id)
    return render(request, "desk/request.html", _request_context(request, subject_request))


@desk_page()
def progress_fragment(request: HttpRequest, request_id: str) -> HttpResponse:
    """The per-system progress table alone, polled by the request page to stay live."""
    subject_request = get_object_or_404(DataSubjectRequest, pk=request_id)
    return render(request, "desk/_progress.html", _request_context(request, subject_request))


def _request_context(request: HttpRequest, subject_request: DataSubjectRequest) -> dict[str, Any]:
    jobs = list(subject_request.jobs.select_related("system").order_by("phase", "system__name"))
    return {
        "req": subject_request,
        "days_left": days_left(subject_request),
        "urgency": urgency(subject_request),
        "jobs": jobs,
        "live": any(not j.is_terminal for j in jobs),
        "events": list(subject_request.audit_events.order_by("seq")),
        "notes": list(subject_request.notes.select_related("author")),
        "verification": subject_request.verifications.filter(purpose="verify").first(),
        "preview": results.preview(subject_request) if subject_request.status == Status.REVIEW
        and subject_request.kind in results.EXPORT_KINDS else [],
        "bundle": results.current_bundle(subject_request),
        "exceptions": list(subject_request.exceptions.select_related("system")),
        "withholdings": list(subject_request.withholdings.select_related("job__system")),
        "changes": list(enumerate(subject_request.changes or [], start=1)),
        "officers": officers(),
        "regimes": Regime.choices,
        "grounds": ErasureGround.choices,
        "systems": SystemConnection.objects.filter(enabled=True).order_by("name"),
        "deny_templates": ReplyTemplate.objects.filter(purpose="deny"),
        "extend_templates": ReplyTemplate.objects.filter(purpose="extend"),
        "can_act": request.desk_role in CAN_ACT,
    }


def _act(request: HttpRequest, subject_request: DataSubjectRequest, do: Callable[[Actor], str]) -> HttpResponse:
    try:
        done = do(Actor.officer(request.user))
    except REFUSALS as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("desk:request", request_id=subject_request.pk)


def _text(request: HttpRequest, name: str) -> str:
    return (request.POST.get(name) or "").strip()


@require_POST
@desk_page(act=True)
def request_action(request: HttpRequest, request_id: str, action: str) -> HttpResponse:
    r = get_object_or_404(DataSubjectRequest, pk=request_id)
    user = request.user

    def approve(actor):
        execution.approve(r, actor=actor)
        return "Approved: the systems are at work."

    def deny(actor):
        closing.deny(r, reason=_text(request, "reason"), actor=actor)
        return "Denied; the person has been told why."

    def extend(actor):
        closing.extend(r, reason=_text(request, "reason"), actor=actor)
        return f"Extended to {r.extended_due_on:%d %B %Y}; the person has been told."

    def assign(actor):
        target = get_user_model().objects.filter(pk=_text(request, "assignee") or 0, is_active=True).first()
        actions.assign(r, target, actor=actor)
        return f"Assigned to {target.username}." if target else "Unassigned."

    def note(actor):
        actions.add_note(r, _text(request, "text"), author=user, actor=actor)
        return "Note added."

    def regime(actor):
        actions.correct_regime(r, _text(request, "regime"), actor=actor)
        return f"Regime corrected; now due {r.due_on:%d %B %Y}."

    def release(actor):
        results.release(r, actor=actor, user=user)
        return "Released: the person has been emailed."

    def reissue(actor):
        results.reissue(r, actor=actor, user=user)
        return "A new download has been issued."

    def close(actor):
        if r.status != Status.REVIEW or r.kind in results.EXPORT_KINDS:
            raise actions.ActionRefused("Close reviewed rectifications here; release access results instead.")
        closing.complete(r, actor=actor)
        return "Closed; the person has been emailed."

    def decide(actor):
        decisions = {}
        for index, _item in enumerate(r.changes or []):
            choice = request.POST.get(f"decision_{index}")
            if choice in ("accept", "reject"):
                decisions[index] = (choice == "accept", _text(request, f"reason_{index}"))
        rectification.decide(r, decisions, actor=actor)
        return "Corrections decided."

    def keep(actor):
        system = get_object_or_404(SystemConnection, pk=_text(request, "system"))
        erasure.add_exception(r, system, ground=_text(request, "ground"), reason=_text(request, "reason"),
                              actor=actor, user=user)
        return f"The data in {system.name} will be kept."

    def withhold(actor):
        job = get_object_or_404(ConnectorJob, pk=_text(request, "job"), request=r)
        index = _text(request, "record")
        results.withhold(r, job, category=_text(request, "category"), reason=_text(request, "reason"),
                         record_index=int(index) if index.isdigit() else None, actor=actor, user=user)
        return "Withheld from the bundle."

    handlers = {f.__name__: f for f in (approve, deny, extend, assign, note, regime, release, reissue, close,
                                        decide, keep, withhold)}
    if action not in handlers:
        return HttpResponse("Unknown action.", status=404)
    return _act(request, r, handlers[action])


@require_POST
@desk_page(act=True)
def job_action(request: HttpRequest, job_id: str, action: str) -> HttpResponse:
    job = get_object_or_404(ConnectorJob.objects.select_related("request", "system"), pk=job_id)

    def retry(actor):
        if not execution.retry_job(job, actor=actor):
            raise actions.ActionRefused("Only a failed job can be retried.")
        return f"{job.system.name}: queued again."

    def skip(actor):
        actions.skip_job(job, reason=_text(request, "reason"), actor=actor)
        return f"{job.system.name}: skipped."

    def complete(actor):
        upload = request.FILES.get("file")
        documents = [actions.document_record(upload.name, upload.read(), upload.content_type)] if upload else None
        affected = _text(request, "affected")
        actions.complete_task(job, note=_text(request, "note"), actor=actor, documents=documents,
                              affected=int(affected) if affected.isdigit() else 0)
        return f"{job.system.name}: done."

    handlers = {"retry": retry, "skip": skip, "complete": complete}
    if action not in handlers:
        return HttpResponse("Unknown action.", status=404)
    return _act(request, job.request, handlers[action])


@require_POST
@desk_page(act=True)
def bulk_action(request: HttpRequest) -> HttpResponse:
    ids = request.POST.getlist("selected")
    chosen = DataSubjectRequest.objects.filter(pk__in=ids[:500])
    actor = Actor.officer(request.user)
    action = request.POST.get("action")
    if action == "approve":
        done, refused = 0, 0
        for item in chosen:
            try:
                done += execution.approve(item, actor=actor)
            except REFUSALS:
                refused += 1
        messages.success(request, f"{done} approved" + (f", {refused} could not be" if refused else "") + ".")
    elif action == "assign":
        target = get_user_model().objects.filter(pk=request.POST.get("assignee") or 0, is_active=True).first()
        for item in chosen:
            actions.assign(item, target, actor=actor)
        messages.success(request, f"{chosen.count()} assigned to {target.username if target else 'no one'}.")
    else:
        messages.error(request, "Choose an action.")
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "desk:queue"
    return redirect(target)


@desk_page()
def certificate(request: HttpRequest, request_id: str) -> HttpResponse:
    """A printable certificate of what an erasure did in each system, and what was kept and why."""
    subject_request = get_object_or_404(DataSubjectRequest, pk=request_id, kind=Kind.ERASURE)
    return render(request, "desk/certificate.html", erasure.certificate_context(subject_request))
