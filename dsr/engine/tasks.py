"""Celery tasks of the engine: run a job, reconcile, escalate, watch deadlines, deliver mail.

Thin: each takes ids and calls services; services queue these by name (``dsr.core.queue``).
"""

from __future__ import annotations

from celery import shared_task

from dsr.core import emails
from dsr.core.queue import Task, mail_task

from . import current, recovery, runner, watch


@shared_task(name=Task.RUN_JOB, acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: str) -> str | None:
    return runner.run(job_id)


@shared_task(name=Task.READ_CURRENT)
def read_current(request_id: str) -> list[str]:
    """Read what the systems hold now for a rectification's fields, for the officer to decide."""
    return current.read_current(request_id)


@shared_task(name=Task.RECONCILE)
def reconcile() -> dict[str, int]:
    return recovery.reconcile()


@shared_task(name=Task.ESCALATE_WAITING)
def escalate_waiting() -> int:
    return recovery.escalate_waiting()


@shared_task(name=Task.WATCH_DEADLINES)
def watch_deadlines() -> int:
    return watch.remind()


@mail_task(name=Task.DELIVER)
def deliver(to: str, subject: str, text: str, html: str) -> None:
    """Send an already rendered email, retrying while the mail server is away."""
    emails.deliver(to, subject, text, html)
