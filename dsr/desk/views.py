"""The officers' desk: the queue, a request on one page, and every action as a plain form."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST

from dsr.core import labels, law, selectors
from dsr.core.models import (
    ConnectorJob,
    DataSubjectRequest,
    ErasureGround,
    Kind,
    ReplyTemplate,
    Status,
    SystemConnection,
)
from dsr.core.roles import CAN_ACT, acting_staff
from dsr.desk import dispatch, wording
from dsr.desk.auth import desk_page
from dsr.desk.dispatch import REFUSALS
from dsr.desk.queries import QueueFilter, days_left, person_key, person_requests, queue, urgency
from dsr.results import access, erasure, rectification

PAGE_SIZES = (25, 50, 100, 200)


def officers() -> list[Any]:
    """Who can be assigned a request (officers, administrators and superusers)."""
    return list(acting_staff().order_by("username"))


STATE_TITLES = {"open": "Open requests", "closed": "Closed requests", "": "All requests"}


@desk_page()
def queue_page(request: HttpRequest) -> HttpResponse:
    """The one queue: open requests by default, closed ones (or all) on request."""
    params = request.GET.copy()
    if params.get("mine"):
        params["assignee"] = "me"
    if not any(params.get(name) for name in ("state", "open", "status", "q")):
        params["state"] = "open"
    f, errors = QueueFilter.from_params(params)
    if errors:
        f = QueueFilter(state="open")
    try:
        size = int(request.GET.get("size", 50))
    except ValueError:
        size = 50
    size = size if size in PAGE_SIZES else 50
    page = Paginator(queue(f, user=request.user), size).get_page(request.GET.get("page"))
    status_labels = dict(Status.choices)
    rows = [
        {"r": r, "days_left": days_left(r), "urgency": urgency(r), "status": status_labels[r.status]}
        for r in page.object_list
    ]
    query = params.copy()
    query.pop("page", None)
    # A search among the open requests also says how many closed ones match.
    also_closed = queue(replace(f, state="closed"), user=request.user).count() if f.q and f.state == "open" else 0
    title = STATE_TITLES[f.state]
    if f.status:
        title = f"Requests {status_labels[f.status].lower()}"
    if f.assignee == "me":
        title += " assigned to me"
    return render(request, "desk/queue.html", {
        "page": page, "rows": rows, "f": f, "errors": errors, "size": size, "sizes": PAGE_SIZES,
        "title": title, "statuses": Status.choices, "kinds": list(labels.KINDS.items()),
        "regimes": list(labels.REGIMES.items()), "officers": officers(), "query": query.urlencode(),
        "can_act": request.desk_role in CAN_ACT, "request_prefix": reverse("desk:queue") + "requests/",
        "person": person_key(f.q) if "@" in f.q else None, "also_closed": also_closed,
        "closed_query": urlencode({"q": f.q, "state": "closed"}),
    }, status=400 if errors else 200)


@desk_page()
def request_page(request: HttpRequest, request_id: str) -> HttpResponse:
    subject_request = selectors.request_by_key(
        request_id, DataSubjectRequest.objects.select_related("assignee", "duplicate_of"))
    return render(request, "desk/request.html", _request_context(request, subject_request))


@desk_page()
def progress_fragment(request: HttpRequest, request_id: str) -> HttpResponse:
    """The per-system progress table alone, polled by the request page to stay live."""
    subject_request = selectors.request_by_key(request_id)
    return render(request, "desk/_progress.html", _progress_context(request, subject_request))


def _progress_context(request: HttpRequest, subject_request: DataSubjectRequest) -> dict[str, Any]:
    jobs = list(subject_request.jobs.select_related("system").order_by("phase", "system__name"))
    return {"req": subject_request, "jobs": jobs, "live": any(not j.is_terminal for j in jobs),
            "can_act": request.desk_role in CAN_ACT, "upload_mb": f"{settings.DSR_MAX_UPLOAD_BYTES / 2**20:g}"}


def _request_context(request: HttpRequest, subject_request: DataSubjectRequest) -> dict[str, Any]:
    applied = law.for_request(subject_request)
    templates = list(ReplyTemplate.objects.all())
    return {
        **_progress_context(request, subject_request),
        "days_left": days_left(subject_request),
        "urgency": urgency(subject_request),
        "events": wording.describe_all(subject_request.audit_events.order_by("seq")),
        "notes": list(subject_request.notes.select_related("author")),
        "verification": subject_request.verifications.filter(purpose="verify").first(),
        "preview": access.preview(subject_request) if subject_request.status == Status.REVIEW
        and subject_request.kind in access.EXPORT_KINDS else [],
        "bundle": selectors.current_bundle(subject_request),
        "exceptions": erasure.exceptions_cited(subject_request),
        "law": applied,
        "notices": list(subject_request.notices.select_related("system")),
        "withholdings": list(subject_request.withholdings.select_related("job__system")),
        "changes": list(enumerate(subject_request.changes or [], start=1)),
        "awaiting_decision": rectification.waiting_for_decision(subject_request)
        if subject_request.status == Status.IN_PROGRESS and subject_request.kind == Kind.RECTIFICATION else [],
        "blocked_by": selectors.same_under_way(subject_request, (Status.APPROVED, Status.IN_PROGRESS, Status.REVIEW))
        if subject_request.status == Status.VERIFIED else None,
        "officers": officers(),
        "regimes": list(labels.REGIMES.items()),
        "grounds": [(v, f"{label} ({applied.ground(v)})" if applied.ground(v) else label)
                    for v, label in ErasureGround.choices],
        "systems": SystemConnection.objects.filter(enabled=True).order_by("name"),
        "deny_templates": [t for t in templates if t.purpose == "deny"],
        "extend_templates": [t for t in templates if t.purpose == "extend"],
        "message_templates": [t for t in templates if t.purpose == "message"],
        "messages_sent": list(subject_request.messages.select_related("author")),
        "emails": list(subject_request.emails.all()),
        "others": person_requests(subject_request.email_hash, excluding=subject_request),
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
    subject_request = selectors.request_by_key(request_id)
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
    subject_request = selectors.request_by_key(request_id, DataSubjectRequest.objects.filter(kind=Kind.ERASURE))
    return render(request, "desk/certificate.html", erasure.certificate_context(subject_request))
