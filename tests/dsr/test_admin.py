from __future__ import annotations

import pytest
from django.core.management import call_command

from dsr.models import DataSubjectRequest, Status

pytestmark = pytest.mark.django_db


def test_demo_data_loads_once_with_a_valid_audit_chain(capsys):
    call_command("load_demo")
    call_command("load_demo")
    out = capsys.readouterr().out
    assert "Demo data loaded: 5 requests, 3 connected systems." in out and "already loaded" in out
    assert DataSubjectRequest.objects.count() == 5
    # Approval queues the jobs on commit; this test's transaction never commits, so they wait.
    assert DataSubjectRequest.objects.filter(status=Status.IN_PROGRESS).count() == 2
    assert DataSubjectRequest.objects.filter(status=Status.VERIFIED).count() == 1
    call_command("verify_audit")


def test_an_officer_sees_requests_and_the_audit_trail_read_only_in_the_admin(client):
    call_command("load_demo")
    assert client.login(username="officer", password="demo-officer-pass")
    listing = client.get("/admin/dsr/datasubjectrequest/")
    assert listing.status_code == 200
    request = DataSubjectRequest.objects.get(identifiers__isnull=False, kind="erasure")
    assert request.reference in listing.content.decode()
    detail = client.get(f"/admin/dsr/datasubjectrequest/{request.pk}/change/")
    assert detail.status_code == 200
    assert "ben.demo@example.org" in detail.content.decode()
    assert client.get("/admin/dsr/auditevent/").status_code == 200
    assert client.post(f"/admin/dsr/datasubjectrequest/{request.pk}/delete/").status_code == 403
