"""Handing work to Celery: by task name, once the transaction has committed.

Services never import task modules: they name the task here and call
:func:`on_commit` (or :func:`enqueue` outside a transaction). Only the task modules
(``dsr.intake.tasks``, ``dsr.engine.tasks``, ``dsr.results.tasks``) import services,
so the arrows run one way: tasks → services → this module.

Task names keep the ``dsr.tasks.`` prefix they had when every task lived in one
module, so messages already queued and the beat schedule survive an upgrade.
"""

from __future__ import annotations

import logging
import smtplib
from functools import partial

from celery import current_app, shared_task
from django.db import transaction

log = logging.getLogger(__name__)


class Task:
    """Every task's registered name; the task modules register under these."""

    # intake: the person's acknowledgement and codes
    SEND_VERIFICATION = "dsr.tasks.send_verification"
    SEND_RECEIPT = "dsr.tasks.send_receipt"
    SEND_DOWNLOAD_CODE = "dsr.tasks.send_download_code"
    EXPIRE_UNVERIFIED = "dsr.tasks.expire_unverified"
    RESEND_UNACKNOWLEDGED = "dsr.tasks.resend_unacknowledged"
    # engine: jobs, their reconciler and the deadline watch
    RUN_JOB = "dsr.tasks.run_job"
    RECONCILE = "dsr.tasks.reconcile"
    ESCALATE_WAITING = "dsr.tasks.escalate_waiting"
    WATCH_DEADLINES = "dsr.tasks.watch_deadlines"
    DELIVER = "dsr.tasks.deliver"
    # results: outcomes, bundles, retention
    SEND_OUTCOME = "dsr.tasks.send_outcome"
    SEND_MESSAGE = "dsr.tasks.send_message"
    RELEASE_RESULTS = "dsr.tasks.release_results"
    EXPIRE_BUNDLES = "dsr.tasks.expire_bundles"
    PURGE_RETAINED = "dsr.tasks.purge_retained"


#: The modules that register the tasks above (imported when the app is ready).
TASK_MODULES = ("dsr.intake.tasks", "dsr.engine.tasks", "dsr.results.tasks")


def enqueue(name: str, *args: object, countdown: float | None = None) -> bool:
    """Queue the task ``name`` now; if the broker is unreachable, log it and let a sweep catch up.

    The data is already safe when this runs, so a broker outage must not turn a stored
    request into an error page: the periodic sweeps (reconciler, email sweep) re-queue.
    """
    task = current_app.tasks[name]  # an unknown name is a bug, not an outage: it raises
    try:
        task.apply_async(args, countdown=countdown or None)
    except Exception:  # any broker failure; the periodic sweeps re-queue
        log.warning("could not queue %s; the periodic sweep will retry", name, exc_info=True)
        return False
    return True


def on_commit(name: str, *args: object, countdown: float | None = None) -> None:
    """Queue the task ``name`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(enqueue, name, *args, countdown=countdown))


def mail_task(**options):
    """A task that sends mail: a failing mail server is retried with backoff, never lost."""
    return shared_task(
        autoretry_for=(smtplib.SMTPException, OSError),
        retry_backoff=5,
        retry_backoff_max=600,
        max_retries=10,
        acks_late=True,
        **options,
    )


def waiting_job_messages() -> int | None:
    """How many messages wait in the jobs' queue; None if the broker cannot tell."""
    app = current_app
    if app.conf.task_always_eager:
        return 0
    name = getattr(app.tasks[Task.RUN_JOB], "queue", None) or app.conf.task_default_queue
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1)
            queue = app.amqp.queues[name](connection.default_channel)
            return queue.queue_declare(passive=True).message_count
    except Exception as exc:  # noqa: BLE001 - any broker failure: the caller plays safe
        if "NOT_FOUND" in str(exc) or getattr(exc, "code", None) in (404, "404"):
            return 0  # the queue does not exist (Redis drops an empty list): nothing waits
        log.warning("could not count the jobs' queue: %s", exc)
        return None
