from __future__ import annotations

import pytest
from django.core.management import call_command

from dsr.core.models import DataSubjectRequest, Status

pytestmark = pytest.mark.django_db


def test_demo_data_loads_once_with_a_valid_audit_chain(capsys):
    call_command("load_demo")
    call_command("load_demo")
    out = capsys.readouterr().out
    assert "Demo data loaded: 5 requests, 4 connected systems." in out and "already loaded" in out
    assert DataSubjectRequest.objects.count() == 5
    # Approval queues the jobs on commit; this test's transaction never commits, so they wait.
    assert DataSubjectRequest.objects.filter(status=Status.IN_PROGRESS).count() == 2
    assert DataSubjectRequest.objects.filter(status=Status.VERIFIED).count() == 1
    call_command("verify_audit")


def test_an_officer_sees_requests_and_the_audit_trail_read_only_in_the_admin(client, desk_login):
    call_command("load_demo")
    desk_login("administrator")
    listing = client.get("/admin/dsr/datasubjectrequest/")
    assert listing.status_code == 200
    request = DataSubjectRequest.objects.get(identifiers__isnull=False, kind="erasure")
    assert request.reference in listing.content.decode()
    detail = client.get(f"/admin/dsr/datasubjectrequest/{request.pk}/change/")
    assert detail.status_code == 200
    assert "ben.demo@example.org" in detail.content.decode()
    assert client.get("/admin/dsr/auditevent/").status_code == 200
    assert client.post(f"/admin/dsr/datasubjectrequest/{request.pk}/delete/").status_code == 403


def test_officers_release_results_and_find_the_certificate_from_the_admin(
    client, desk_login, django_capture_on_commit_callbacks
):
    from connectors.memory import MemoryConnector
    from dsr.core.audit import Actor
    from dsr.core.models import SystemConnection
    from dsr.engine import fanout
    from tests.factories import RequestFactory

    MemoryConnector.reset()
    SystemConnection.objects.create(
        name="crm", connector="memory",
        config={"records": [{"category": "profile", "fields": {"email": "a@example.com"}},
                            {"category": "profile", "fields": {"email": "e@example.com"}}]},
    )
    access = RequestFactory(kind="access", status=Status.VERIFIED, identifiers={"email": "a@example.com"})
    erasure = RequestFactory(kind="erasure", status=Status.VERIFIED, identifiers={"email": "e@example.com"})
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(access, actor=Actor.scheduler())
        fanout.approve(erasure, actor=Actor.scheduler())
    desk_login("administrator")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/dsr/datasubjectrequest/",
            {"action": "release_results", "_selected_action": [str(access.pk)]},
            follow=True,
        )
    assert "1 bundle(s) being built" in response.content.decode()
    access.refresh_from_db()
    assert access.status == Status.COMPLETED and access.bundles.count() == 1
    page = client.get(f"/admin/dsr/datasubjectrequest/{erasure.pk}/change/").content.decode()
    assert f"/desk/requests/{erasure.pk}/certificate/" in page
    MemoryConnector.reset()


def test_the_admin_shows_a_preview_of_the_results_for_review(client, desk_login, django_capture_on_commit_callbacks):
    from connectors.memory import MemoryConnector
    from dsr.core.audit import Actor
    from dsr.core.models import SystemConnection
    from dsr.engine import fanout
    from tests.factories import RequestFactory

    MemoryConnector.reset()
    SystemConnection.objects.create(
        name="crm", connector="memory",
        config={"records": [{"category": "profile", "fields": {"email": "a@example.com", "plan": "gold"}}]},
    )
    access = RequestFactory(kind="access", status=Status.VERIFIED, identifiers={"email": "a@example.com"})
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(access, actor=Actor.scheduler())
    desk_login("administrator")
    page = client.get(f"/admin/dsr/datasubjectrequest/{access.pk}/change/").content.decode()
    assert "profile: 1" in page and "<tr><th>plan</th><td>gold</td></tr>" in page  # a table, not JSON
    assert "&quot;plan&quot;" not in page and "{'by_category'" not in page
    assert "<tr><th>by_category</th><td>profile: 1</td></tr>" in page  # the job's result, in words
    MemoryConnector.reset()


def test_the_admin_needs_the_second_factor_and_the_administrator_role(client, desk_login):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("nofactor", "n@example.com", "pw")
    client.force_login(user)  # a password alone
    assert client.get("/admin/dsr/datasubjectrequest/").status_code == 302
    desk_login("officer")
    assert client.get("/admin/dsr/datasubjectrequest/").status_code == 302
    desk_login("administrator", username="admin2")
    assert client.get("/admin/dsr/datasubjectrequest/").status_code == 200


def test_the_admin_logs_in_at_the_first_try_with_password_and_code(client):
    from tests.dsr.desk.users import PASSWORD, current_code, make_user

    user = make_user("root", "administrator")
    response = client.post("/admin/login/?next=/admin/", {
        "username": "root", "password": PASSWORD, "otp_token": current_code(user), "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
