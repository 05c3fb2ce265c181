"""Corrections never overwrite a newer value: duplicates are merged or wait, and a stale decision stops.

The issue: two rectifications for the same person were open; the newer was linked as a
duplicate yet stayed workable, was approved first, and then the older one was approved
and silently replaced the newer value.
"""

from __future__ import annotations

import pytest

from connectors.memory import MemoryConnector
from dsr.core.audit import Actor
from dsr.core.lifecycle import InvalidTransition
from dsr.core.models import AuditEvent, DataSubjectRequest, JobStatus, Status, SystemConnection
from dsr.desk import dispatch
from dsr.engine import current, fanout
from dsr.intake import verification
from dsr.intake.submission import Submission, submit_request
from dsr.results import closing, rectification
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db
EMAIL = "olga@example.com"
ACTOR = Actor.scheduler()


@pytest.fixture(autouse=True)
def crm():
    MemoryConnector.reset()
    system = SystemConnection.objects.create(
        name="crm", connector="memory",
        config={"records": [{"category": "customer", "fields": {"email": EMAIL, "address": "1 Old Road"}}]},
    )
    yield system
    MemoryConnector.reset()


def address() -> str:
    (value,) = current.read_values(MemoryConnector(name="crm"), _subject(), ["address"])["address"]
    return value


def _subject():
    from connectors.base import Subject

    return Subject(request_id="check", identifiers={"email": EMAIL})


def file(value: str, capture) -> DataSubjectRequest:
    with capture(execute=True):
        return submit_request(Submission(kind="rectification", email=EMAIL, country="PT",
                                         changes=[{"field": "address", "value": value}]))


def verify(request: DataSubjectRequest, capture) -> DataSubjectRequest:
    with capture(execute=True):
        verification.verify_code(request, verification.issue_code(request).code)
    request.refresh_from_db()
    return request


def decide(request, *decisions):
    """As an officer decides on the desk or through the officer API."""
    data = {"decisions": [{"index": i, "accept": a, "reason": why} for i, a, why in decisions]}
    return dispatch.run_request_action("decide", DataSubjectRequest.objects.get(pk=request.pk), data, officer())


def officer():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get_or_create(username="pat")[0]


def test_the_newer_correction_is_not_overwritten_by_the_older_one(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    older, newer = file("2 Oak Road", capture), file("3 Elm Street", capture)
    assert newer.duplicate_of == older
    newer = verify(newer, capture)  # the newer one is confirmed first...
    older = verify(older, capture)  # ...then the older one: it joins the newer, never both workable
    assert (older.status, older.outcome, older.duplicate_of) == (Status.CANCELLED, "merged", newer)
    newer.refresh_from_db()
    assert [(c["value"], c.get("from")) for c in newer.changes] == [("3 Elm Street", None),
                                                                     ("2 Oak Road", older.reference)]
    assert all(c["current"] == {"crm": ["1 Old Road"]} for c in newer.changes)  # what the officer sees
    with pytest.raises(rectification.DecisionRefused, match="both change address: accept one"):
        decide(newer, (1, True, ""), (2, True, ""))
    decide(newer, (1, True, ""), (2, False, "You asked again later for 3 Elm Street."))
    with capture(execute=True):
        fanout.approve(newer, actor=ACTOR)
    assert address() == "3 Elm Street"
    with pytest.raises(InvalidTransition):
        fanout.approve(DataSubjectRequest.objects.get(pk=older.pk), actor=ACTOR)
    assert address() == "3 Elm Street"
    assert AuditEvent.objects.filter(request=newer, verb="rectification.merged").exists()


def test_a_correction_decided_before_another_was_applied_stops_for_a_new_decision(
    django_capture_on_commit_callbacks, client, desk_login
):
    capture = django_capture_on_commit_callbacks
    first = verify(file("2 Oak Road", capture), capture)
    decide(first, (1, True, ""))
    with capture(execute=False) as queued:  # approved; its job has not run yet
        fanout.approve(first, actor=ACTOR)
    second = verify(file("3 Elm Street", capture), capture)
    assert second.status == Status.VERIFIED and second.duplicate_of == first  # waits, not merged
    decide(second, (1, True, ""))  # the officer saw "1 Old Road"
    with pytest.raises(fanout.NotReadyToApprove, match=f"{first.reference} is under way"):
        fanout.approve(second, actor=ACTOR)
    with capture(execute=True):
        for callback in queued:
            callback()
    first.refresh_from_db()
    assert first.status == Status.REVIEW and address() == "2 Oak Road"
    with capture(execute=True):
        closing.complete(first, actor=ACTOR)
        fanout.approve(DataSubjectRequest.objects.get(pk=second.pk), actor=ACTOR)
    job = second.jobs.get()
    assert job.status == JobStatus.WAITING and job.result["stale"] == ["address"]
    assert address() == "2 Oak Road"  # nothing overwritten
    assert "Oak" not in str(job.result) and "Oak" not in str(AuditEvent.objects.filter(request=second).values())
    desk_login("officer")
    page = client.get(f"/desk/requests/{second.pk}/").content.decode()
    assert "A value changed since the decision in crm" in page and "“2 Oak Road”" in page
    assert "changed since you decided" in page
    with capture(execute=True):
        message = decide(second, (1, True, ""))  # decided again, against "2 Oak Road"
    assert "1 system(s) will now apply them" in message
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and address() == "3 Elm Street"


def test_a_value_changed_in_the_system_itself_stops_the_job(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    request = verify(file("2 Oak Road", capture), capture)
    decide(request, (1, True, ""))
    MemoryConnector(name="crm").rectify(_subject(), {"address": "9 Shore Lane"})  # someone edits the record
    with capture(execute=True):
        fanout.approve(request, actor=ACTOR)
    assert request.jobs.get().status == JobStatus.WAITING and address() == "9 Shore Lane"
    request.refresh_from_db()
    assert request.changes[0]["current"] == {"crm": ["9 Shore Lane"]}
    assert request.changes[0]["seen"] == {"crm": ["1 Old Road"]}


def test_officers_see_the_current_value_next_to_the_requested_one(django_capture_on_commit_callbacks, client,
                                                                  desk_login):
    request = verify(file("2 Oak Road", django_capture_on_commit_callbacks), django_capture_on_commit_callbacks)
    desk_login("officer")
    page = client.get(f"/desk/requests/{request.pk}/").content.decode()
    assert "1. address → 2 Oak Road" in page and "Now: crm: “1 Old Road”" in page


def test_a_correction_cannot_be_accepted_before_the_current_values_are_read(django_capture_on_commit_callbacks):
    request = RequestFactory(kind="rectification", status=Status.VERIFIED, identifiers={"email": EMAIL},
                             changes=[{"field": "address", "value": "2 Oak Road"}])
    with pytest.raises(rectification.DecisionRefused, match="not been read"):
        decide(request, (1, True, ""))
    decide(request, (1, False, "Not ours to change."))  # a rejection needs no reading
    with django_capture_on_commit_callbacks(execute=True):
        said = dispatch.run_request_action("read", request, {}, officer())
    assert "Reading the current values" in said
    request.refresh_from_db()
    assert request.changes[0]["current"] == {"crm": ["1 Old Road"]}
    decide(request, (1, True, ""))
