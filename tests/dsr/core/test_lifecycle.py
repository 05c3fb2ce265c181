from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dsr.core import audit, lifecycle
from dsr.core.audit import Actor
from dsr.core.lifecycle import InvalidTransition
from dsr.core.models import AuditEvent, DataSubjectRequest, Status
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

HAPPY_PATH = [
    Status.VERIFIED,
    Status.APPROVED,
    Status.IN_PROGRESS,
    Status.REVIEW,
    Status.COMPLETED,
]


def test_it_walks_the_happy_path_writing_one_audit_event_per_step():
    request = RequestFactory()
    for target in HAPPY_PATH:
        assert lifecycle.transition(request, target, actor=Actor.scheduler()) is True
    request.refresh_from_db()
    assert request.status == Status.COMPLETED
    assert request.closed_at is not None
    verbs = list(AuditEvent.objects.filter(request=request).values_list("verb", flat=True))
    assert verbs == [f"status.{s}" for s in HAPPY_PATH]
    details = AuditEvent.objects.filter(request=request).last().details
    assert details == {"from": "review", "to": "completed"}


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.AWAITING_VERIFICATION, Status.APPROVED),
        (Status.AWAITING_VERIFICATION, Status.DENIED),
        (Status.VERIFIED, Status.COMPLETED),
        (Status.APPROVED, Status.DENIED),
        (Status.COMPLETED, Status.CANCELLED),
        (Status.EXPIRED, Status.VERIFIED),
        (Status.DENIED, Status.APPROVED),
    ],
)
def test_a_move_the_lifecycle_does_not_allow_raises_a_clear_error(start, target):
    request = RequestFactory(status=start)
    with pytest.raises(InvalidTransition) as excinfo:
        lifecycle.transition(request, target, actor=Actor.scheduler())
    message = str(excinfo.value)
    assert request.reference in message and start.value in message and target.value in message
    request.refresh_from_db()
    assert request.status == start
    assert not AuditEvent.objects.filter(request=request).exists()


def test_repeating_a_move_is_a_harmless_no_op():
    request = RequestFactory(status=Status.VERIFIED)
    assert lifecycle.transition(request, Status.APPROVED, actor=Actor.scheduler()) is True
    assert lifecycle.transition(request, Status.APPROVED, actor=Actor.scheduler()) is False
    assert AuditEvent.objects.filter(request=request, verb="status.approved").count() == 1


def test_a_stale_copy_cannot_apply_a_move_twice():
    request = RequestFactory(status=Status.VERIFIED)
    stale = DataSubjectRequest.objects.get(pk=request.pk)
    assert lifecycle.transition(request, Status.APPROVED, actor=Actor.scheduler())
    # The stale copy still believes the request is verified: the conditional update refuses.
    assert lifecycle.transition(stale, Status.APPROVED, actor=Actor.scheduler()) is False
    assert stale.status == Status.APPROVED
    with pytest.raises(InvalidTransition):
        stale_two = DataSubjectRequest.objects.get(pk=request.pk)
        stale_two.status = Status.VERIFIED
        lifecycle.transition(stale_two, Status.DENIED, actor=Actor.scheduler())
    assert AuditEvent.objects.filter(request=request).count() == 1


def test_every_open_status_can_be_cancelled_and_closed_ones_cannot():
    for status in [s for s in Status if s not in lifecycle.ALLOWED]:
        assert not lifecycle.can_transition(status, Status.CANCELLED)
    for status in lifecycle.ALLOWED:
        assert lifecycle.can_transition(status, Status.CANCELLED)


def test_fields_are_written_in_the_same_update():
    request = RequestFactory(status=Status.VERIFIED)
    lifecycle.transition(
        request, Status.DENIED, actor=Actor.scheduler(), fields={"denial_reason": "manifestly unfounded"}
    )
    request.refresh_from_db()
    assert request.status == Status.DENIED
    assert request.denial_reason == "manifestly unfounded"


def test_several_moves_are_one_update_with_an_audit_event_each():
    request = RequestFactory(status=Status.RECEIVED)
    integration, approver = Actor("system", "integration:website"), Actor("scheduler", "auto-approval")
    moves = [
        lifecycle.Move(Status.VERIFIED, integration, {"method": "trusted_integration"}, {"country": "FR"}),
        lifecycle.Move(Status.APPROVED, approver, {"reason": "auto"}),
        lifecycle.Move(Status.IN_PROGRESS, approver),
    ]
    with CaptureQueriesContext(connection) as queries, audit.batch():
        assert lifecycle.transition_through(request, moves) is True
        updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1 and "dsr_datasubjectrequest" in updates[0]
    request.refresh_from_db()
    assert (request.status, request.country) == (Status.IN_PROGRESS, "FR")
    events = list(AuditEvent.objects.filter(request=request).order_by("seq"))
    assert [(e.verb, e.actor_id, e.details) for e in events] == [
        ("status.verified", "integration:website", {"from": "received", "to": "verified", "method": "trusted_integration"}),
        ("status.approved", "auto-approval", {"from": "verified", "to": "approved", "reason": "auto"}),
        ("status.in_progress", "auto-approval", {"from": "approved", "to": "in_progress"}),
    ]


def test_several_moves_are_checked_each_against_the_one_before():
    request = RequestFactory(status=Status.VERIFIED)
    moves = [lifecycle.Move(Status.APPROVED, Actor.scheduler()), lifecycle.Move(Status.COMPLETED, Actor.scheduler())]
    with pytest.raises(InvalidTransition, match="'approved' to 'completed'"):
        lifecycle.transition_through(request, moves)
    request.refresh_from_db()
    assert request.status == Status.VERIFIED and not AuditEvent.objects.filter(request=request).exists()


def test_moves_whose_first_was_made_already_are_a_no_op_and_a_stale_copy_changes_nothing():
    request = RequestFactory(status=Status.VERIFIED)
    moves = [lifecycle.Move(Status.APPROVED, Actor.scheduler()), lifecycle.Move(Status.IN_PROGRESS, Actor.scheduler())]
    stale = DataSubjectRequest.objects.get(pk=request.pk)
    assert lifecycle.transition_through(request, moves) is True
    assert lifecycle.transition_through(stale, moves) is False  # the UPDATE found it moved on
    assert stale.status == Status.IN_PROGRESS
    approved = RequestFactory(status=Status.APPROVED)
    assert lifecycle.transition_through(approved, moves) is False
    assert AuditEvent.objects.filter(verb="status.approved").count() == 1
