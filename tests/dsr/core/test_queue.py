"""Handing work to Celery by name: every name is a real task, and nothing is queued before commit."""

from __future__ import annotations

import pytest
from celery import current_app
from django.conf import settings

from dsr.core import queue
from dsr.core.queue import Task

NAMES = {value for key, value in vars(Task).items() if key.isupper()}


def test_every_task_name_is_a_registered_task_and_every_task_has_a_name():
    registered = {name for name in current_app.tasks if name.startswith("dsr.")}
    assert NAMES == registered


def test_the_beat_schedule_names_only_registered_tasks():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled <= NAMES
    assert {Task.RECONCILE, Task.WATCH_DEADLINES, Task.RESEND_UNACKNOWLEDGED} <= scheduled


@pytest.mark.django_db
def test_a_task_is_queued_only_once_the_transaction_commits(monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(current_app.tasks[Task.EXPIRE_BUNDLES], "apply_async",
                        lambda args, countdown=None: sent.append((args, countdown)))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queue.on_commit(Task.EXPIRE_BUNDLES, countdown=5)
        assert sent == []  # still inside the transaction
    assert len(callbacks) == 1 and sent == [((), 5)]


def test_a_broker_that_refuses_the_message_is_logged_not_raised(monkeypatch, caplog):
    def refused(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(current_app.tasks[Task.EXPIRE_BUNDLES], "apply_async", refused)
    assert queue.enqueue(Task.EXPIRE_BUNDLES) is False
    assert "could not queue dsr.tasks.expire_bundles" in caplog.text


def test_an_unknown_task_name_is_a_bug_and_raises():
    with pytest.raises(KeyError):
        queue.enqueue("dsr.tasks.no_such_task")
