"""The documented brokers, for tests that run real workers: Redis and RabbitMQ.

``publishing_to(url)`` makes this process publish to another broker (as the web app
and beat would), and puts everything back after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from dsr.celery import app as celery_app

RABBITMQ_URL = os.environ.get("DSR_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def reset_celery_connections() -> None:
    """Close every pooled broker connection and forget the pools.

    ``app.pool`` is kombu's process-wide pool for the broker URL: closing it without
    dropping it from kombu's registry would leave later tests a closed pool.
    """
    from kombu import pools

    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def publishing_to(url: str) -> Iterator[None]:
    conf = celery_app.conf
    saved = conf.broker_url, conf.task_always_eager
    reset_celery_connections()
    conf.broker_url, conf.task_always_eager = url, False
    try:
        yield
    finally:
        reset_celery_connections()
        conf.broker_url, conf.task_always_eager = saved


def broker_urls() -> dict[str, str]:
    """Each documented broker by name: the configured one (Redis in CI) and RabbitMQ."""
    return {"redis": settings.CELERY_BROKER_URL, "rabbitmq": RABBITMQ_URL}
