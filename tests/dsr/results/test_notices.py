"""Telling recipients (GDPR Art. 19 and its likes): what the texts say is what has happened.

A recipient is told by an email a task sends, by its own connected system's job, or by an
officer who ticks the task off; the person's email and the certificate say "we told X on
<date>" only then, and "we will tell X" before.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from connectors.memory import MemoryConnector
from dsr.core.audit import Actor
from dsr.core.models import AuditEvent, NoticeStatus, RecipientNotice, Status, SystemConnection
from dsr.engine import fanout
from dsr.results import erasure
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db
EMAIL = "nina@example.com"


@pytest.fixture(autouse=True)
def clean_memory():
    MemoryConnector.reset()
    yield
    MemoryConnector.reset()


def system(name, recipients, **extra):
    return SystemConnection.objects.create(
        name=name, connector="memory", recipients=recipients,
        config={"records": [{"category": "customer", "fields": {"email": EMAIL, "address": "1 Old Road"}}]},
        **extra,
    )


def erase(capture, regime="gdpr", before=None):
    request = RequestFactory(kind="erasure", status=Status.VERIFIED, regime=regime, identifiers={"email": EMAIL})
    if before:
        before(request)
    with capture(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    request.refresh_from_db()
    assert request.status == Status.COMPLETED
    return request


def person_mail(request):
    return [m for m in mail.outbox if m.to == [EMAIL] and request.reference in m.subject][-1].body


def test_an_emailed_recipient_is_told_by_a_task_and_the_person_is_told_when(django_capture_on_commit_callbacks):
    system("crm", [{"name": "Parcel carrier", "notify": "email", "email": "privacy@carrier.example"}])
    request = erase(django_capture_on_commit_callbacks)
    notice = RecipientNotice.objects.get(request=request)
    assert notice.status == NoticeStatus.DONE and notice.done_at and notice.note == "emailed privacy@carrier.example"
    (sent,) = [m for m in mail.outbox if m.to == ["privacy@carrier.example"]]
    assert "Please erase" in sent.subject and EMAIL in sent.body and "GDPR Art. 19" in sent.body
    body = person_mail(request)
    assert f"Parcel carrier, on {timezone.localdate():%-d %B %Y}" in body and "We have told" in body
    assert "We will tell" not in body
    assert AuditEvent.objects.filter(request=request, verb="recipient.notified").count() == 1


def test_a_manual_recipient_is_a_task_an_officer_ticks_off_and_nothing_claims_it_before(
    client, desk_login, django_capture_on_commit_callbacks
):
    system("crm", ["Our auditors"])  # a plain name: told by hand
    request = erase(django_capture_on_commit_callbacks, regime="ccpa")
    body = person_mail(request)
    assert "We will tell those we shared your data with" in body and "- Our auditors" in body
    assert "We have told" not in body and "Cal. Civ. Code §1798.105(c)(1)" in body
    notice = RecipientNotice.objects.get(request=request)
    assert notice.status == NoticeStatus.TO_DO
    desk_login("officer")
    certificate = client.get(f"/desk/requests/{request.pk}/certificate/").content.decode()
    assert "Our auditors" in certificate and "not yet" in certificate and "Recipients told" not in certificate
    page = client.get(f"/desk/requests/{request.pk}/").content.decode()
    assert "Mark as told" in page
    refused = client.post(f"/desk/requests/{request.pk}/told/", {"notice": notice.pk, "note": ""}, follow=True)
    assert "Say how the recipient was told" in refused.content.decode()
    client.post(f"/desk/requests/{request.pk}/told/", {"notice": notice.pk, "note": "phoned their DPO"})
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.DONE and notice.note == "phoned their DPO" and notice.done_by
    certificate = client.get(f"/desk/requests/{request.pk}/certificate/").content.decode()
    assert f"on {timezone.localdate():%-d %B %Y}: phoned their DPO" in certificate
    assert AuditEvent.objects.filter(request=request, verb="recipient.notified").count() == 1


def test_a_recipient_that_is_a_connected_system_is_told_by_its_own_job(django_capture_on_commit_callbacks):
    system("crm", [{"name": "Marketing platform", "notify": "system", "system": "marketing"}])
    system("marketing", [])
    request = erase(django_capture_on_commit_callbacks)
    notice = RecipientNotice.objects.get(request=request)
    job = request.jobs.get(system__name="marketing")
    assert notice.status == NoticeStatus.DONE and notice.done_at == job.finished_at
    assert "its own erase job in marketing" in notice.note


def test_a_connected_recipient_whose_data_was_kept_is_still_to_tell(django_capture_on_commit_callbacks):
    system("crm", [{"name": "Marketing platform", "notify": "system", "system": "marketing"}])
    kept = system("marketing", [])
    request = erase(django_capture_on_commit_callbacks, before=lambda r: erasure.add_exception(
        r, kept, ground="legal_claims", reason="A dispute is open.", actor=Actor.scheduler()))
    notice = RecipientNotice.objects.get(request=request)
    assert notice.status == NoticeStatus.TO_DO
    assert "We will tell" in person_mail(request)


@pytest.mark.parametrize(("recipients", "problem"), [
    ('[{name: Carrier, notify: email}]', "needs a valid email address"),
    ('[{name: Carrier, notify: fax, email: a@b.example}]', "notify must be one of"),
    ('[{name: Carrier, notify: system}]', "needs the connected system's name"),
    ('[{name: Carrier, phone: "123"}]', "unknown key(s) phone"),
    ('[{notify: manual}]', "needs a name"),
    ('"Carrier"', "must be a list"),
])
def test_recipients_in_a_systems_file_are_checked(tmp_path, recipients, problem):
    path = tmp_path / "systems.yaml"
    path.write_text(f"systems:\n  - name: crm\n    connector: memory\n    recipients: {recipients}\n")
    with pytest.raises(CommandError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        call_command("load_systems", str(path))
