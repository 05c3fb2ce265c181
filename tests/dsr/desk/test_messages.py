"""Talking to the person: a message from the request page or ``POST …/message/``, emailed in the
request's thread, stored encrypted and audited; and the email log of every email sent about
the request (the page and ``GET …/emails/``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from dsr.core import emails
from dsr.core.models import AuditEvent, DataSubjectRequest, EmailLog, Message, ReplyTemplate, Status
from dsr.intake.tasks import resend_unacknowledged
from dsr.results import retention
from tests.dsr.desk.users import issue_key, make_user
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

TEXT = "Please send us a copy of the letter you mentioned, Ms Quill."


@pytest.fixture
def request_of_quill():
    return RequestFactory(status=Status.VERIFIED, identifiers={"email": "quill@example.com", "name": "Q"})


def test_an_officer_writes_to_the_person_from_the_request_page(
    client, desk_login, request_of_quill, django_capture_on_commit_callbacks
):
    pat = desk_login("officer", username="pat")
    template = ReplyTemplate.objects.create(name="Need more information", purpose="message",
                                            text="We need more information to find your data.")
    page = client.get(f"/desk/requests/{request_of_quill.pk}/").content.decode()
    assert 'data-text="We need more information to find your data."' in page and "Need more information" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/desk/requests/{request_of_quill.pk}/message/",
                               {"text": TEXT, "template": template.pk}, follow=True)
    assert "Message written; it is on its way to the person by email." in response.content.decode()
    [sent] = mail.outbox
    assert sent.to == ["quill@example.com"] and TEXT in sent.body
    assert request_of_quill.reference in sent.subject
    # In the request's thread: every email about it refers to the same thread id.
    thread = emails.thread_id(request_of_quill)
    assert sent.extra_headers["References"] == thread and sent.extra_headers["In-Reply-To"] == thread
    message = Message.objects.get()
    assert (message.author, message.template, message.text) == (pat, template, TEXT) and message.sent_at
    event = AuditEvent.objects.get(verb="message.written")
    assert (event.actor_id, event.details["template"]) == (str(pat.pk), template.pk) and TEXT not in str(event.details)
    page = client.get(f"/desk/requests/{request_of_quill.pk}/").content.decode()
    assert TEXT in page and "pat wrote to the person" in page
    assert "Message from an officer" in page and "Sent: accepted by the mail server" in page


def test_the_message_is_stored_encrypted(client, desk_login, request_of_quill, django_capture_on_commit_callbacks):
    desk_login("officer")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/desk/requests/{request_of_quill.pk}/message/", {"text": TEXT})
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM dsr_message")
        [(stored,)] = cursor.fetchall()
    assert "Quill" not in stored and "letter" not in stored


def test_every_email_about_a_request_is_in_its_thread_and_its_log(verified_request):
    created, _ = verified_request(email="log@example.com")
    request = DataSubjectRequest.objects.get(reference=created["reference"])
    [ack] = mail.outbox
    assert ack.extra_headers["References"] == emails.thread_id(request)
    log = list(EmailLog.objects.filter(request=request))
    assert [(e.template, e.status) for e in log] == [("acknowledgement", "sent")]
    assert log[0].message_id == ack.extra_headers["Message-ID"] and request.reference in log[0].subject


def test_a_failed_email_is_logged_without_the_address_and_retried(
    client, desk_login, request_of_quill, django_capture_on_commit_callbacks, settings
):
    settings.EMAIL_BACKEND = "tests.dsr.failing_mail.Refusing"
    desk_login("officer")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/desk/requests/{request_of_quill.pk}/message/", {"text": TEXT})
    failed = EmailLog.objects.filter(request=request_of_quill, status="failed")
    assert failed.count() >= 1 and not EmailLog.objects.filter(status="sent").exists()
    error = failed.first().error
    assert error.startswith("SMTPRecipientsRefused: ") and "no such user" in error
    assert "quill@example.com" not in error and "[redacted]" in error
    assert Message.objects.get().sent_at is None  # so the sweep sends it later
    page = client.get(f"/desk/requests/{request_of_quill.pk}/").content.decode()
    assert "Failed: the mail server did not take it" in page


def test_a_message_whose_task_was_lost_is_sent_by_the_sweep(request_of_quill, django_capture_on_commit_callbacks):
    Message.objects.create(request=request_of_quill, text=TEXT, created_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        resend_unacknowledged()
    assert any(TEXT in m.body for m in mail.outbox)
    assert Message.objects.get().sent_at is not None
    mail.outbox.clear()
    resend_unacknowledged()
    assert not mail.outbox  # never twice


def test_the_officer_api_writes_and_lists_the_email_log(api, request_of_quill, django_capture_on_commit_callbacks):
    make_user("script", "officer")
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_key('script')}")
    url = f"/api/v1/desk/requests/{request_of_quill.reference}"
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{url}/message/", {"text": TEXT}, format="json")
    assert response.status_code == 201 and Message.objects.filter(pk=response.json()["id"]).exists()
    [entry] = api.get(f"{url}/emails/").json()
    assert (entry["template"], entry["status"]) == ("message", "sent") and request_of_quill.reference in entry["subject"]
    detail = api.get(f"{url}/").json()
    assert detail["messages"][0]["text"] == TEXT and detail["messages"][0]["author"] == "script"
    # Outside the documented shape (blank, too long, a template id as text, NUL) is a 400;
    # a well-formed template id that names no template is a 409.
    for bad, code in (({"text": ""}, 400), ({"text": "x" * 10_001}, 400), ({"text": TEXT, "template": 999}, 409),
                      ({"text": TEXT, "template": "one"}, 400), ({"text": "a\x00b"}, 400), ({"text": {}}, 400),
                      ({"text": TEXT, "template": "7"}, 400)):
        refused = api.post(f"{url}/message/", bad, format="json")
        assert refused.status_code == code, (bad, refused.content)
    assert Message.objects.count() == 1


def test_an_auditor_reads_the_log_but_cannot_write(api, client, desk_login, request_of_quill):
    desk_login("auditor")
    assert client.post(f"/desk/requests/{request_of_quill.pk}/message/", {"text": TEXT}).status_code == 403
    page = client.get(f"/desk/requests/{request_of_quill.pk}/").content.decode()
    assert "Email log" in page and 'name="text" required maxlength' not in page
    assert not Message.objects.exists()


def test_no_message_once_the_record_is_purged_and_purging_empties_old_messages(
    client, desk_login, request_of_quill, settings, django_capture_on_commit_callbacks
):
    desk_login("officer")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/desk/requests/{request_of_quill.pk}/message/", {"text": TEXT})
    type(request_of_quill).objects.filter(pk=request_of_quill.pk).update(
        status=Status.COMPLETED, closed_at=timezone.now() - timedelta(days=900))
    assert retention.purge() == 1
    assert Message.objects.get().text is None
    page = client.post(f"/desk/requests/{request_of_quill.pk}/message/", {"text": TEXT}, follow=True)
    assert "no longer holds the person's email address" in page.content.decode()
    assert Message.objects.count() == 1


def test_purging_empties_the_officers_notes_and_reasons_and_the_api_returns_no_note(
    client, desk_login, request_of_quill
):
    """Officers write about the person in notes and reasons: they go with the identifiers."""
    from rest_framework.test import APIClient

    from dsr.core.models import ApiToken, Note
    from dsr.desk.auth import token_hash

    officer = desk_login("officer")
    client.post(f"/desk/requests/{request_of_quill.pk}/note/", {"text": "Quill phoned from a new number"})
    type(request_of_quill).objects.filter(pk=request_of_quill.pk).update(
        status=Status.DENIED, closed_at=timezone.now() - timedelta(days=900),
        denial_reason="Quill's ID did not match", extension_reason="Quill asked for time")
    assert retention.purge() == 1
    request_of_quill.refresh_from_db()
    assert (request_of_quill.denial_reason, request_of_quill.extension_reason) == ("", "")
    assert Note.objects.get().text == ""
    ApiToken.objects.create(user=officer, key_hash=token_hash("officer-key"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token officer-key")
    body = api.get(f"/api/v1/desk/requests/{request_of_quill.pk}/").content.decode()
    assert "Quill" not in body and "new number" not in body


def test_an_email_sent_while_the_log_cannot_be_written_is_still_sent_once(request_of_quill, monkeypatch):
    """The email went out: a failing log write must not fail the task (a retry would send it twice)."""
    from django.db import DatabaseError

    def broken(self, *args, **kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(EmailLog, "save", broken)
    emails.send("message", to="quill@example.com", request=request_of_quill,
                context={"request": request_of_quill, "text": TEXT, "status_url": "https://x.example/"})
    assert len(mail.outbox) == 1
