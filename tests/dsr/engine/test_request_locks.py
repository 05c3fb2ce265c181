"""A request's row, locked while its jobs' outcomes move it on, never holds up an audit event
for it: the lock is FOR NO KEY UPDATE, which the event's foreign-key check (FOR KEY SHARE)
passes. With FOR UPDATE, a transaction appending that event holds the chain head while it
waits for the request, and the request's holder then waits for the head: a deadlock (the
chaos test met it once)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from dsr.core import audit
from dsr.core.audit import Actor
from dsr.core.models import AuditEvent, Status
from dsr.engine import fanout
from tests.factories import RequestFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's; SQLite locks the file"),
]


def test_an_event_for_a_request_is_appended_while_its_row_is_locked_to_move_it_on(monkeypatch):
    request = RequestFactory(status=Status.IN_PROGRESS)
    holding, release, failed = threading.Event(), threading.Event(), []
    real = fanout.advance_locked

    def paused(locked_request):
        holding.set()  # the row is locked now, in the other thread's transaction
        assert release.wait(20)
        return real(locked_request)

    monkeypatch.setattr(fanout, "advance_locked", paused)

    def move_on() -> None:
        try:
            fanout.advance(str(request.pk))
        except Exception as error:  # noqa: BLE001 - reported below, in the test's own thread
            failed.append(error)
        finally:
            connections.close_all()

    mover = threading.Thread(target=move_on)
    mover.start()
    try:
        assert holding.wait(20)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")  # waiting on the row would fail here
            audit.record("request.note", actor=Actor.scheduler(), request=request, details={"n": 1})
    finally:
        release.set()
        mover.join(30)
    assert not failed
    assert AuditEvent.objects.filter(request=request, verb="request.note").count() == 1
    assert AuditEvent.objects.filter(request=request).exclude(verb="request.note").exists()  # and it moved on
