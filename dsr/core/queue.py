"""Handing work to Celery: by task name, once the transaction has committed.

Services never import task modules: they name the task here and call
:func:`on_commit` (or :func:`enqueue` outside a transaction). Only the task modules
(``dsr.intake.tasks``, ``dsr.engine.tasks``, ``dsr.results.tasks``) import services,
so the arrows run one way: tasks → services → this module.

Task names keep the ``dsr.tasks.`` prefix they had when every task lived in one
module, so messages already queued and the beat schedule survive an upgrade.

Queues: jobs go to a queue by their system's class (``DSR_JOB_QUEUES``: databases to
``jobs``, HTTP services and SaaS vendors to ``jobs-http``), everything else (emails,
sweeps, bundles) to Celery's default queue. A worker started without ``-Q`` takes them
all; past one machine, workers can be given one class each.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from contextlib import suppress
from functools import partial

from celery import current_app, shared_task
from django.conf import settings
from django.db import transaction

from connectors import registry
from connectors.base import ConnectorError

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
    READ_CURRENT = "dsr.tasks.read_current"
    # results: outcomes, bundles, retention
    SEND_OUTCOME = "dsr.tasks.send_outcome"
    NOTIFY_RECIPIENT = "dsr.tasks.notify_recipient"
    SEND_MESSAGE = "dsr.tasks.send_message"
    RELEASE_RESULTS = "dsr.tasks.release_results"
    EXPIRE_BUNDLES = "dsr.tasks.expire_bundles"
    PURGE_RETAINED = "dsr.tasks.purge_retained"


#: The modules that register the tasks above (imported when the app is ready).
TASK_MODULES = ("dsr.intake.tasks", "dsr.engine.tasks", "dsr.results.tasks")


def job_queue(connector: str) -> str:
    """The queue for jobs of systems reached by ``connector`` (its class: fast or http)."""
    try:
        kind = registry.load(connector).queue_class
    except ConnectorError:
        kind = "fast"  # the job will fail visibly wherever it runs
    return settings.DSR_JOB_QUEUES.get(kind) or settings.DSR_JOB_QUEUES["fast"]


def enqueue(
    name: str, *args: object, countdown: float | None = None, queue: str | None = None
) -> bool:
    """Queue the task ``name`` now; if the broker is unreachable, log it and let a sweep catch up.

    The data is already safe when this runs, so a broker outage must not turn a stored
    request into an error page: the periodic sweeps (reconciler, email sweep) re-queue.
    """
    task = current_app.tasks[name]  # an unknown name is a bug, not an outage: it raises
    try:
        task.apply_async(args, countdown=countdown or None, **({"queue": queue} if queue else {}))
    except Exception:  # any broker failure; the periodic sweeps re-queue
        log.warning("could not queue %s; the periodic sweep will retry", name, exc_info=True)
        return False
    return True


def on_commit(
    name: str, *args: object, countdown: float | None = None, queue: str | None = None
) -> None:
    """Queue the task ``name`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(enqueue, name, *args, countdown=countdown, queue=queue))


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
    """How many messages wait in the jobs' queues; None if the broker cannot tell."""
    return backlog(settings.DSR_JOB_QUEUES.values())


def waiting_mail_messages() -> int | None:
    """How many messages wait in any queue; None if unknown. The email sweep waits while the
    broker holds anything: the sent markers make a second send harmless, but re-queuing every
    unacknowledged email each sweep would crowd out the jobs' own tasks."""
    return backlog([current_app.conf.task_default_queue, *settings.DSR_JOB_QUEUES.values()])


def backlog(names: Iterable[str]) -> int | None:
    """How many messages wait in the queues ``names``; None if the broker cannot tell."""
    app = current_app
    if app.conf.task_always_eager:
        return 0
    total = 0
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1)
            for name in dict.fromkeys(names):
                total += _count(app, connection, name)
    except Exception as exc:  # noqa: BLE001 - any broker failure: the caller plays safe
        log.warning("could not count the queues %s: %s", ", ".join(names), exc)
        return None
    return total


def _count(app, connection, name: str) -> int:
    channel = connection.channel()  # its own: AMQP closes a channel that asked for a missing queue
    try:
        return app.amqp.queues[name](channel).queue_declare(passive=True).message_count
    except Exception as exc:
        if "NOT_FOUND" in str(exc) or getattr(exc, "code", None) in (404, "404"):
            return 0  # the queue does not exist (Redis drops an empty list): nothing waits
        raise
    finally:
        with suppress(Exception):
            channel.close()
