"""Input the desk must refuse clearly (a 4xx and a message, never a 500), and the upload it
must take: what an officer met trying the desk (issue 14)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dsr.core import storage
from dsr.core.audit import Actor
from dsr.core.models import DataSubjectRequest, Status, SystemConnection, Withholding
from dsr.engine import fanout
from tests.dsr.desk.users import issue_key, make_user
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


def test_bulk_with_a_malformed_id_is_refused_with_a_message_not_a_500(client, desk_login, api):
    desk_login("officer")
    good = RequestFactory(status=Status.VERIFIED)
    response = client.post("/desk/bulk/", {"action": "approve", "selected": [str(good.pk), "not-an-id"]},
                           follow=True)
    assert response.status_code == 200
    assert "1 of the chosen items are not request ids or references." in response.content.decode()
    assert DataSubjectRequest.objects.get(pk=good.pk).status == Status.VERIFIED  # nothing done
    empty = client.post("/desk/bulk/", {"action": "approve"}, follow=True)
    assert "Choose at least one request." in empty.content.decode()

    make_user("script", "officer")
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_key('script')}")
    for ids in (["nope"], [{"id": 1}], [str(good.pk), "x" * 40]):
        refused = api.post("/api/v1/desk/bulk/approve/", {"ids": ids}, format="json")
        assert refused.status_code == 400 and refused.json()["error"] == "invalid", ids


@pytest.fixture
def in_review(django_capture_on_commit_callbacks):
    SystemConnection.objects.create(
        name="crm", connector="memory",
        config={"records": [{"category": "profile", "fields": {"email": "w@example.com", "plan": "gold"}},
                            {"category": "notes", "fields": {"email": "w@example.com", "text": "about B"}}]},
    )
    request = RequestFactory(kind="access", status=Status.VERIFIED, identifiers={"email": "w@example.com"})
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    request.refresh_from_db()
    assert request.status == Status.REVIEW
    return request


def test_withholding_a_category_named_like_an_email_is_refused_clearly(client, desk_login, in_review):
    desk_login("officer")
    job = in_review.jobs.get()
    url = f"/desk/requests/{in_review.pk}/withhold/"
    response = client.post(url, {"job": job.pk, "category": "someone@example.com", "reason": "Art. 15(4)"},
                           follow=True)
    assert response.status_code == 200
    assert "crm exported no category of that name. Its categories: notes, profile." in response.content.decode()
    assert not Withholding.objects.exists()
    too_far = client.post(url, {"job": job.pk, "category": "notes", "record": "7", "reason": "Art. 15(4)"},
                          follow=True)
    assert "there is no record #7" in too_far.content.decode()
    done = client.post(url, {"job": job.pk, "category": "notes", "reason": "Art. 15(4): B's data"}, follow=True)
    assert "Withheld from the bundle." in done.content.decode()
    assert Withholding.objects.get().category == "notes"


def test_withholding_through_the_api_refuses_an_unknown_category_with_a_4xx(api, in_review):
    make_user("script", "officer")
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_key('script')}")
    job = in_review.jobs.get()
    response = api.post(f"/api/v1/desk/requests/{in_review.pk}/withhold/",
                        {"job": str(job.pk), "category": "x@y.example", "reason": "Art. 15(4)"}, format="json")
    assert response.status_code == 409 and "no category of that name" in response.json()["detail"]


@pytest.fixture
def manual_export(django_capture_on_commit_callbacks):
    SystemConnection.objects.create(name="paper", connector="manual")
    request = RequestFactory(kind="access", status=Status.VERIFIED)
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    job = request.jobs.get()
    assert job.status == "waiting"
    return job


def test_a_manual_task_is_ticked_off_with_a_file_of_several_megabytes(
    client, desk_login, manual_export, django_capture_on_commit_callbacks
):
    desk_login("officer")
    content = b"%PDF-1.7 " + b"x" * (5 * 1024 * 1024)  # 5 MB: well past the 256 KB of a public form
    upload = SimpleUploadedFile("scan.pdf", content, content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/desk/jobs/{manual_export.pk}/complete/",
                               {"note": "Found the signed form", "file": upload})
    assert response.status_code == 302
    manual_export.refresh_from_db()
    assert manual_export.status == "succeeded" and manual_export.export_records == 1
    [record] = list(storage.read_records(manual_export.export_file))
    assert record["fields"]["size"] == len(content) and record["fields"]["filename"] == "scan.pdf"


def test_a_file_over_the_upload_limit_is_refused_with_the_limit_named(client, desk_login, manual_export, settings):
    settings.DSR_MAX_UPLOAD_BYTES = 1024 * 1024
    desk_login("officer")
    upload = SimpleUploadedFile("big.pdf", b"x" * (2 * 1024 * 1024), content_type="application/pdf")
    response = client.post(f"/desk/jobs/{manual_export.pk}/complete/", {"note": "too big", "file": upload})
    assert response.status_code == 413
    assert response.content.decode() == "The file is too large: at most 1 MB."
    manual_export.refresh_from_db()
    assert manual_export.status == "waiting"
    # Just under the body limit but over the file limit: the desk says so, nothing is stored.
    upload = SimpleUploadedFile("big.pdf", b"x" * (1024 * 1024 + 10), content_type="application/pdf")
    page = client.post(f"/desk/jobs/{manual_export.pk}/complete/", {"note": "a bit big", "file": upload},
                       follow=True)
    assert "The file is larger than 1 MB." in page.content.decode()
    manual_export.refresh_from_db()
    assert manual_export.status == "waiting"
