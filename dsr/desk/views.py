"""The officers' desk: the queue, a request on one page, and every action as a plain form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from dsr.core import selectors
from dsr.core.models import (
    ConnectorJob,
    DataSubjectRequest,
    ErasureGround,
    Kind,
    Regime,
    ReplyTemplate,
    Status,
    SystemConnection,
)
from dsr.core.roles import CAN_ACT, Role
from dsr.desk import dispatch
from dsr.desk.auth import desk_page
from dsr.desk.dispatch import REFUSALS
from dsr.desk.queries import QueueFilter, days_left, queue, urgency
from dsr.results import access, erasure

PAGE_SIZES = (25, 50, 100, 200)


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
    labels = dict(Status.choices)
    rows = [
        {"r": r, "days_left": days_left(r), "urgency": urgency(r), "status": labels[r.status]}
        for r in page.object_list
    ]
    query = params.copy()
    query.pop("page", None)
    return render(request, "desk/queue.html", {
        "page": page, "rows": rows, "f": f, "errors": errors, "size": size, "sizes": PAGE_SIZES,
        "statuses": Status.choices, "kinds": Kind.choices, "regimes": Regime.choices,
        "officers": officers(), "query": query.urlencode(), "can_act": request.desk_role in CAN_ACT,
        "request_prefix": reverse("desk:queue") + "requests/",
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
        "preview": access.preview(subject_request) if subject_request.status == Status.REVIEW
        and subject_request.kind in access.EXPORT_KINDS else [],
        "bundle": selectors.current_bundle(subject_request),
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


def _done(request: HttpRequest, target: str, run: Callable[[], str]) -> HttpResponse:
    try:
        messages.success(request, run())
    except REFUSALS as exc:
        messages.error(request, str(exc))
    return redirect(target)


@require_POST
@desk_page(act=True)
def request_action(request: HttpRequest, request_id: str, action: str) -> HttpResponse:
    subject_request = get_object_or_404(DataSubjectRequest, pk=request_id)
    if action not in dispatch.REQUEST_ACTIONS:
        raise Http404("Unknown action.")
    return _done(request, reverse("desk:request", args=[subject_request.pk]),
                 lambda: dispatch.run_request_action(action, subject_request, request.POST, request.user))


@require_POST
@desk_page(act=True)
def job_action(request: HttpRequest, job_id: str, action: str) -> HttpResponse:
    job = get_object_or_404(ConnectorJob.objects.select_related("request", "system"), pk=job_id)
    if action not in dispatch.JOB_ACTIONS:
        raise Http404("Unknown action.")
    return _done(request, reverse("desk:request", args=[job.request_id]),
                 lambda: dispatch.run_job_action(action, job, request.POST, request.user, files=request.FILES))


@require_POST
@desk_page(act=True)
def bulk_action(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("desk:queue")
    action = request.POST.get("action") or ""
    if action not in ("approve", "assign"):
        messages.error(request, "Choose an action.")
        return redirect(target)

    def run() -> str:
        counts = dispatch.run_bulk(action, request.POST.getlist("selected"), request.POST, request.user)
        verb = "approved" if action == "approve" else "assigned"
        return f"{counts['done']} {verb}" + (f", {counts['refused']} could not be" if counts["refused"] else "") + "."

    return _done(request, target, run)


@desk_page()
def certificate(request: HttpRequest, request_id: str) -> HttpResponse:
    """A printable certificate of what an erasure did in each system, and what was kept and why."""
    subject_request = get_object_or_404(DataSubjectRequest, pk=request_id, kind=Kind.ERASURE)
    return render(request, "desk/certificate.html", erasure.certificate_context(subject_request))
