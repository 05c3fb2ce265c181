"""Pages for officers (staff login). The full desk comes later; this is the erasure certificate."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from . import erasure
from .models import DataSubjectRequest, Kind


@staff_member_required
def certificate(request: HttpRequest, request_id: str) -> HttpResponse:
    """A printable certificate of what an erasure did in each system, and what was kept and why."""
    subject_request = get_object_or_404(DataSubjectRequest, pk=request_id, kind=Kind.ERASURE)
    return render(request, "desk/certificate.html", erasure.certificate_context(subject_request))
