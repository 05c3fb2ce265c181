"""Between two tasks a worker keeps its database connection, as Django does between requests."""

from __future__ import annotations

import time

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection, transaction

from dsr.celery import app
from dsr.intake.tasks import send_verification

pytestmark = pytest.mark.django_db(transaction=True)


def around_a_task(fixup: DjangoWorkerFixup, *, eager: bool = False) -> None:
    """What a worker does before and after each task: the fix-up's hooks and the task signals."""
    task = send_verification
    task.push_request(is_eager=eager)
    try:
        if not eager:
            fixup.on_task_prerun(sender=task)
        task_prerun.send(sender=task, task_id="t1", task=task, args=(), kwargs={})
        task_postrun.send(sender=task, task_id="t1", task=task, args=(), kwargs={}, retval=None,
                          state="SUCCESS")
        if not eager:
            fixup.on_task_postrun(sender=task)
    finally:
        task.pop_request()


def test_a_worker_keeps_its_connection_from_task_to_task_until_it_is_too_old():
    fixup = DjangoWorkerFixup(app)  # what `celery worker` installs for a Django project
    connection.ensure_connection()
    connection.close_at = time.monotonic() + 60  # as CONN_MAX_AGE=60 sets it (PostgreSQL)
    raw = connection.connection
    for _ in range(3):
        around_a_task(fixup)
        assert connection.connection is raw  # no new session for the next task
    connection.close_at = time.monotonic() - 1  # older than CONN_MAX_AGE now
    around_a_task(fixup)
    assert connection.connection is None
    connection.ensure_connection()  # and the next task simply connects again
    assert connection.is_usable()


def test_an_eager_task_leaves_its_callers_connection_and_transaction_alone():
    fixup = DjangoWorkerFixup(app)
    with transaction.atomic():
        connection.ensure_connection()
        raw = connection.connection
        connection.close_at = time.monotonic() - 1  # would be closed between two worker tasks
        around_a_task(fixup, eager=True)
        assert connection.connection is raw and connection.is_usable()
        assert not connection.closed_in_transaction and not connection.needs_rollback
