"""The audit trail at the desk: the chain checked on the spot, and every event in words.

Anyone with a desk role may read it; it is the auditor's page. The check is the one
``manage.py verify_audit`` runs: it walks the whole chain, so its time grows with it
(it reads events in pages of 5,000, so its memory does not).
"""

from __future__ import annotations

import time

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from dsr.core.audit import verify_chain
from dsr.core.models import AuditChainHead, AuditEvent
from dsr.desk import wording
from dsr.desk.auth import desk_page

PAGE_SIZE = 50
FAULTS_SHOWN = 20


@require_safe
@desk_page()
def audit_page(request: HttpRequest) -> HttpResponse:
    started = time.monotonic()
    faults = []
    for fault in verify_chain():
        faults.append(fault)
        if len(faults) == FAULTS_SHOWN:
            break
    seconds = time.monotonic() - started
    head = AuditChainHead.objects.filter(pk=1).first()
    page = Paginator(AuditEvent.objects.select_related("request").order_by("-seq"), PAGE_SIZE).get_page(
        request.GET.get("page"))
    events = list(page.object_list)
    lines = wording.describe_all(events)
    return render(request, "desk/audit.html", {
        "faults": faults,
        "more_faults": len(faults) == FAULTS_SHOWN,
        "seconds": seconds,
        "head": head,
        "page": page,
        "lines": [(line, event.request) for line, event in zip(lines, events, strict=True)],
    })
