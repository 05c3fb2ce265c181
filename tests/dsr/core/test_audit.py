from __future__ import annotations

import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from dsr.core import audit, lifecycle
from dsr.core.audit import Actor, IdentifierInAuditDetails
from dsr.core.models import AuditEvent, Status
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


def _some_events(n: int = 4):
    request = RequestFactory(status=Status.VERIFIED)
    for target in [Status.APPROVED, Status.IN_PROGRESS, Status.REVIEW, Status.COMPLETED][:n]:
        lifecycle.transition(request, target, actor=Actor.scheduler())
    return list(AuditEvent.objects.order_by("seq"))


def _raw_update(sql: str, params: list) -> None:
    """Tamper the way an attacker with database access would: around the trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A superuser can switch row triggers off for the rest of this transaction.
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


def test_each_event_links_to_the_previous_one():
    events = _some_events()
    assert events[0].prev_hash == audit.GENESIS
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
        assert after.seq == before.seq + 1


def test_verify_audit_passes_on_an_intact_chain(capsys):
    _some_events()
    call_command("verify_audit")
    assert "Audit chain intact: 4 events verified." in capsys.readouterr().out


def test_verify_audit_names_the_first_event_whose_details_were_changed():
    events = _some_events()
    _raw_update(
        "UPDATE dsr_auditevent SET details = %s WHERE seq = %s", ['{"to": "denied"}', events[1].seq]
    )
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit")
    assert f"#{events[1].seq} ({events[1].id})" in str(excinfo.value)
    assert "content does not match" in str(excinfo.value)


def test_verify_audit_notices_a_deleted_event():
    events = _some_events()
    _raw_update("DELETE FROM dsr_auditevent WHERE seq = %s", [events[2].seq])
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit")
    assert f"#{events[3].seq}" in str(excinfo.value)


def test_verify_audit_notices_the_last_event_removed():
    events = _some_events()
    _raw_update("DELETE FROM dsr_auditevent WHERE seq = %s", [events[-1].seq])
    with pytest.raises(CommandError, match="chain ends before the recorded head"):
        call_command("verify_audit")


def test_the_model_refuses_to_change_or_delete_an_event():
    event = _some_events(1)[0]
    event.verb = "something.else"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_postgresql_itself_refuses_updates_and_deletes():
    event = _some_events(1)[0]
    from django.db import DatabaseError

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(verb="tampered")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk)._raw_delete(connection.alias)


def test_details_that_hold_an_email_address_are_refused():
    request = RequestFactory()
    with pytest.raises(IdentifierInAuditDetails):
        audit.record("note", actor=Actor.scheduler(), request=request, details={"x": ["a@b.example"]})
    assert not AuditEvent.objects.filter(verb="note").exists()


def test_a_batch_appends_its_events_together_at_its_end():
    request = RequestFactory(status=Status.VERIFIED)
    with audit.batch():
        lifecycle.transition(request, Status.APPROVED, actor=Actor.scheduler())
        with audit.batch():  # a nested batch joins the outer one
            audit.record("request.noted", actor=Actor.scheduler(), request=request)
        assert not AuditEvent.objects.exists()  # nothing appended (or locked) yet
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.verb for e in events] == ["status.approved", "request.noted"]
    assert events[0].created_at == events[1].created_at
    assert list(audit.verify_chain()) == []
    # The next append carries on from the batch's last event.
    audit.record("request.more", actor=Actor.scheduler(), request=request)
    assert list(audit.verify_chain()) == []


def test_a_failed_batch_appends_nothing_and_leaves_the_chain_whole():
    request = RequestFactory(status=Status.VERIFIED)
    audit.record("request.before", actor=Actor.scheduler(), request=request)
    with pytest.raises(RuntimeError), audit.batch():
        lifecycle.transition(request, Status.APPROVED, actor=Actor.scheduler())
        raise RuntimeError("boom")
    assert list(AuditEvent.objects.values_list("verb", flat=True)) == ["request.before"]
    request.refresh_from_db()
    assert request.status == Status.VERIFIED
    audit.record("request.after", actor=Actor.scheduler(), request=request)
    assert list(audit.verify_chain()) == []


def test_a_batch_refuses_identifiers_in_details_at_once():
    request = RequestFactory(status=Status.VERIFIED)
    with pytest.raises(IdentifierInAuditDetails), audit.batch():
        audit.record("request.noted", actor=Actor.scheduler(), request=request,
                     details={"note": "mail ana@example.com"})
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_an_event_appended_while_the_chain_is_checked_is_not_a_break(monkeypatch):
    """A worker appends as an auditor checks: the check covers the chain up to the head it
    read first, and the newer event is left for the next check (it was reported as a
    truncated chain when the head was read last)."""
    audit.record("request.noted", actor=Actor.scheduler())
    read = audit._events_in_order

    def appended_meanwhile(*args, **kwargs):
        yield from read(*args, **kwargs)
        audit.record("request.noted", actor=Actor.scheduler())  # the worker, mid-check

    monkeypatch.setattr(audit, "_events_in_order", appended_meanwhile)
    assert list(audit.verify_chain()) == []
    monkeypatch.undo()
    assert list(audit.verify_chain()) == [] and AuditEvent.objects.count() == 2
