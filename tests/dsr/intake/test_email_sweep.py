"""The email sweep re-sends what a lost task never sent: the receipt of a request filed by an
integration (verified at once, so never sent a code) and the email that tells how a request ended."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.template.defaultfilters import date as date_filter
from django.utils import timezone

from dsr.core.audit import Actor
from dsr.core.models import AuditEvent, DataSubjectRequest, Status
from dsr.intake import tasks as intake_tasks
from dsr.results import closing
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lost_receipt(api, django_capture_on_commit_callbacks):
    """File through a trusted integration; the receipt's task never reaches a worker."""

    def file(email: str = "ana@example.org") -> DataSubjectRequest:
        out = StringIO()
        call_command("issue_integration_token", "website", "--no-auto-approve", stdout=out)
        with django_capture_on_commit_callbacks(execute=False):  # the queued task is lost
            response = api.post(
                "/api/v1/requests/", {"kind": "access", "email": email, "country": "US", "state": "CA"},
                format="json", HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}",
            )
        assert response.status_code == 201, response.content
        return DataSubjectRequest.objects.get(reference=response.json()["reference"])

    return file


def received_minutes_ago(request: DataSubjectRequest, minutes: int) -> None:
    DataSubjectRequest.objects.filter(pk=request.pk).update(received_at=timezone.now() - timedelta(minutes=minutes))


def test_a_lost_receipt_is_sent_again_once_and_only_after_the_wait(lost_receipt):
    request = lost_receipt()
    assert request.status == Status.VERIFIED and request.acknowledged_at is None
    assert intake_tasks.resend_unacknowledged() == 0  # its task may still be on the way
    received_minutes_ago(request, 11)

    assert intake_tasks.resend_unacknowledged() == 1
    request.refresh_from_db()
    assert request.acknowledged_at is not None
    [message] = mail.outbox
    assert message.to == ["ana@example.org"] and request.reference in message.subject
    assert AuditEvent.objects.filter(request=request, verb="acknowledgement.sent").count() == 1
    assert intake_tasks.resend_unacknowledged() == 0


def test_the_wait_is_a_setting(lost_receipt, settings):
    settings.DSR_EMAIL_RESEND_AFTER_SECONDS = 30
    request = lost_receipt()
    received_minutes_ago(request, 1)
    assert intake_tasks.resend_unacknowledged() == 1


def test_a_closed_request_is_not_sent_a_receipt_after_its_answer(lost_receipt):
    request = lost_receipt()
    DataSubjectRequest.objects.filter(pk=request.pk).update(status=Status.COMPLETED)
    received_minutes_ago(request, 11)
    assert intake_tasks.resend_unacknowledged() == 0
    assert mail.outbox == []


def closed_minutes_ago(request: DataSubjectRequest, minutes: int) -> None:
    DataSubjectRequest.objects.filter(pk=request.pk).update(closed_at=timezone.now() - timedelta(minutes=minutes))


@pytest.mark.parametrize("close", [
    lambda r: closing.complete(r, actor=Actor.scheduler()),
    lambda r: closing.deny(r, reason="We hold no data about you.", actor=Actor.scheduler()),
], ids=["completed", "denied"])
def test_an_outcome_email_lost_with_its_task_is_sent_again_once(close, django_capture_on_commit_callbacks):
    request = RequestFactory(kind="access", status=Status.REVIEW, identifiers={"email": "ben@example.org"})
    with django_capture_on_commit_callbacks(execute=False):  # the queued task is lost
        assert close(request)
    assert mail.outbox == [] and intake_tasks.resend_unacknowledged() == 0  # too soon to call it lost
    closed_minutes_ago(request, 11)

    assert intake_tasks.resend_unacknowledged() == 1
    [message] = mail.outbox
    assert message.to == ["ben@example.org"] and request.reference in message.subject
    request.refresh_from_db()
    sent = AuditEvent.objects.get(request=request, verb="outcome.sent")
    assert sent.details["outcome"] == request.outcome
    assert intake_tasks.resend_unacknowledged() == 0


def test_an_outcome_email_that_was_sent_is_not_sent_again(django_capture_on_commit_callbacks):
    request = RequestFactory(kind="erasure", status=Status.IN_PROGRESS, identifiers={"email": "ben@example.org"})
    with django_capture_on_commit_callbacks(execute=True):
        assert closing.complete(request, actor=Actor.scheduler())
    closed_minutes_ago(request, 11)
    assert len(mail.outbox) == 1
    assert intake_tasks.resend_unacknowledged() == 0
    assert len(mail.outbox) == 1


def test_a_receipt_queued_twice_while_the_mail_server_is_slow_is_sent_once(lost_receipt, monkeypatch):
    """The attack on the mailbox: two sweeps each queue the same lost receipt while the first
    send is still talking to a slow mail server. The sent marker is claimed before sending,
    so the second task finds it taken: one receipt, one audit event."""
    from dsr.core import emails

    request = lost_receipt()
    received_minutes_ago(request, 11)
    real_deliver, inside = emails.deliver, []

    def slow_deliver(*args, **kwargs):
        if not inside:  # while the first one is still sending, the second sweep's task runs
            inside.append(True)
            intake_tasks.send_receipt(str(request.pk))
        real_deliver(*args, **kwargs)

    monkeypatch.setattr(emails, "deliver", slow_deliver)
    assert intake_tasks.resend_unacknowledged() == 1
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(request=request, verb="acknowledgement.sent").count() == 1


def test_a_failed_send_leaves_the_email_to_its_retry(lost_receipt, monkeypatch):
    from dsr.core import emails

    request = lost_receipt()

    def refuse(*args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr(emails, "deliver", refuse)
    with pytest.raises(OSError):
        intake_tasks.send_receipt.run(str(request.pk))
    monkeypatch.undo()
    intake_tasks.send_receipt.run(str(request.pk))
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(request=request, verb="acknowledgement.sent").count() == 1


def test_a_claim_left_by_a_worker_that_died_mid_send_is_taken_over_later(lost_receipt, settings):
    from dsr.core.models import EmailSent

    request = lost_receipt()
    EmailSent.objects.create(request=request, kind="receipt", claimed_at=timezone.now())  # died after claiming
    intake_tasks.send_receipt.run(str(request.pk))
    assert mail.outbox == []  # it may still be sending
    EmailSent.objects.filter(request=request).update(
        claimed_at=timezone.now() - timedelta(seconds=settings.DSR_EMAIL_CLAIM_SECONDS + 1)
    )
    intake_tasks.send_receipt.run(str(request.pk))
    assert len(mail.outbox) == 1


class WorkerKilled(BaseException):
    """A SIGKILL, as far as the task can tell: nothing after it runs, nothing catches it."""


def _killed(*args, **kwargs):
    raise WorkerKilled


def test_an_email_sent_by_a_worker_killed_before_marking_it_is_marked_not_sent_again(
    lost_receipt, settings, monkeypatch
):
    """The worker sent the receipt and logged it, then died before marking it sent: the task that
    takes the claim over finds it in the log by its Message-ID, and marks it, with its audit."""
    from dsr.core import emails
    from dsr.core.models import EmailLog, EmailSent

    request = lost_receipt()
    monkeypatch.setattr(emails, "_mark_sent", _killed)
    with pytest.raises(WorkerKilled):
        intake_tasks.send_receipt.run(str(request.pk))
    monkeypatch.undo()
    [message] = mail.outbox
    [logged] = EmailLog.objects.filter(request=request)
    assert logged.message_id == message.extra_headers["Message-ID"] and logged.status == "sent"
    assert AuditEvent.objects.filter(request=request, verb="acknowledgement.sent").count() == 0

    intake_tasks.send_receipt.run(str(request.pk))
    assert len(mail.outbox) == 1  # still held: it may still be marking it
    settings.DSR_EMAIL_CLAIM_SECONDS = 0  # ... and now long gone
    intake_tasks.send_receipt.run(str(request.pk))
    assert len(mail.outbox) == 1
    request.refresh_from_db()
    assert request.acknowledged_at is not None
    assert EmailSent.objects.get(request=request, kind="receipt").sent_at is not None
    assert AuditEvent.objects.filter(request=request, verb="acknowledgement.sent").count() == 1


def test_an_email_a_killed_worker_never_sent_is_sent_by_the_task_that_takes_it_over(
    lost_receipt, settings, monkeypatch
):
    from dsr.core import emails

    request = lost_receipt()
    monkeypatch.setattr(emails, "deliver", _killed)  # killed while talking to the mail server
    with pytest.raises(WorkerKilled):
        intake_tasks.send_receipt.run(str(request.pk))
    monkeypatch.undo()
    assert mail.outbox == []
    settings.DSR_EMAIL_CLAIM_SECONDS = 0
    intake_tasks.send_receipt.run(str(request.pk))
    [message] = mail.outbox
    assert request.reference in message.subject
    assert AuditEvent.objects.filter(request=request, verb="acknowledgement.sent").count() == 1


def test_an_email_a_killed_worker_sent_but_never_logged_goes_again_as_the_same_message(
    lost_receipt, settings, monkeypatch
):
    """Killed in the moment between the mail server's answer and the log row: nothing in the
    database says the email went, so the task that takes the claim over sends it again. It is
    the same message: one Message-ID, which mail programs show once."""
    from dsr.core import emails
    from dsr.core.models import EmailLog

    request = lost_receipt()
    monkeypatch.setattr(emails, "_keep", _killed)
    with pytest.raises(WorkerKilled):
        intake_tasks.send_receipt.run(str(request.pk))
    monkeypatch.undo()
    assert len(mail.outbox) == 1 and not EmailLog.objects.filter(request=request).exists()
    settings.DSR_EMAIL_CLAIM_SECONDS = 0
    intake_tasks.send_receipt.run(str(request.pk))
    first, again = mail.outbox
    assert again.extra_headers["Message-ID"] == first.extra_headers["Message-ID"]
    [logged] = EmailLog.objects.filter(request=request)
    assert logged.message_id == first.extra_headers["Message-ID"] and logged.status == "sent"
    assert AuditEvent.objects.filter(request=request, verb="acknowledgement.sent").count() == 1
    intake_tasks.send_receipt.run(str(request.pk))  # marked sent now: not a third time
    assert len(mail.outbox) == 2


def test_a_receipt_says_when_we_will_answer_or_that_we_have_answered_or_that_it_was_closed(
    lost_receipt, django_capture_on_commit_callbacks
):
    """A receipt held up (by its mail server, a lost task) until after the request was answered
    or withdrawn must not promise an answer by its deadline: it says what is true when it goes."""
    from dsr.intake import withdrawal

    waiting, answered, withdrawn = (lost_receipt(f"{name}@example.org") for name in ("ana", "ben", "cy"))
    with django_capture_on_commit_callbacks(execute=False):  # the outcome email is told apart
        assert closing.deny(answered, reason="We hold no data about you.", actor=Actor.scheduler())
    assert withdrawal.withdraw(withdrawn)
    for request in (waiting, answered, withdrawn):
        intake_tasks.send_receipt.run(str(request.pk))
    receipts = {message.to[0]: message for message in mail.outbox}
    assert all(message.subject.startswith("We have your privacy request") for message in receipts.values())
    due = date_filter(waiting.effective_due_on, "DATE_FORMAT")
    texts = {to: (m.body, m.alternatives[0][0]) for to, m in receipts.items()}
    assert f"We will answer by {due} at the latest." in texts["ana@example.org"][0]
    assert f"We will answer by <strong>{due}</strong> at the latest." in texts["ana@example.org"][1]
    for text in texts["ben@example.org"]:
        assert "We have already answered it: you will find our answer in a separate email." in text
        assert "We will answer by" not in text
    for text in texts["cy@example.org"]:
        assert "This request was closed." in text
        assert "We will answer by" not in text and "already answered" not in text


def test_an_outcome_queued_twice_is_told_once(django_capture_on_commit_callbacks, monkeypatch):
    from dsr.core import emails
    from dsr.results import tasks as results_tasks

    request = RequestFactory(kind="access", status=Status.REVIEW, identifiers={"email": "ben@example.org"})
    with django_capture_on_commit_callbacks(execute=False):
        closing.deny(request, reason="We hold no data about you.", actor=Actor.scheduler())
    real_deliver, inside = emails.deliver, []

    def slow_deliver(*args, **kwargs):
        if not inside:
            inside.append(True)
            results_tasks.send_outcome(str(request.pk), "denied")
        real_deliver(*args, **kwargs)

    monkeypatch.setattr(emails, "deliver", slow_deliver)
    results_tasks.send_outcome(str(request.pk), "denied")
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(request=request, verb="outcome.sent").count() == 1
