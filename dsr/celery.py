"""The Celery application; configuration comes from Django settings (CELERY_*)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dsr.settings")

app = Celery("dsr")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each part's ``tasks`` module (``dsr.core.queue.TASK_MODULES``; Django's ready() imports them too).
app.autodiscover_tasks(["dsr.intake", "dsr.engine", "dsr.results"])

# Celery's Django fix-up closes every database connection before and after each task
# unless CELERY_DB_REUSE_MAX is set, so each task paid for a new PostgreSQL session,
# which costs more than most tasks' own queries. A worker keeps its connection instead
# and, between two tasks, closes it only where Django would between two web requests:
# after an error that left it unusable, or once it is CONN_MAX_AGE old.
app.conf.CELERY_DB_REUSE_MAX = 2**31


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task: Any = None, **_: Any) -> None:
    if getattr(getattr(task, "request", None), "is_eager", False):
        return  # an eager task runs inside its caller's request and transaction
    from django.db import close_old_connections

    close_old_connections()
