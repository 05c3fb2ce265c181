from __future__ import annotations

import pytest

from dsr.core import lifecycle
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
