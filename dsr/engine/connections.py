"""A job's connector and what it is given: the connector, the person, the changes, the context.

A worker process keeps one connector per system, so its connections are reused from
job to job; a connector that failed a job is dropped and closed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from connectors import registry
from connectors.base import Connector, Deferred, JobContext, Subject
from dsr.core.models import ConnectorJob, JobStatus, SystemConnection
from dsr.results.rectification import accepted_changes


def build_connector(system: SystemConnection) -> Connector:
    cls = registry.load(system.connector)
    return cls(name=system.name, config=system.config, secrets=system.secrets or {})


# A worker process keeps one connector per system, so its database connection is reused
# from job to job instead of opened for each. Any change to the system makes a new one.
_CONNECTORS: dict[Any, Connector] = {}


def _fingerprint(system: SystemConnection) -> Any:
    return (system.pk, system.connector, json.dumps(system.config, sort_keys=True, default=str),
            json.dumps(system.secrets or {}, sort_keys=True))


@contextmanager
def connector_for(system: SystemConnection) -> Iterator[Connector]:
    """The process's connector for ``system``; dropped (and closed) if a job fails with it."""
    key = _fingerprint(system)
    connector = _CONNECTORS.get(key)
    if connector is None:
        for stale in [k for k in _CONNECTORS if k[0] == system.pk]:
            _CONNECTORS.pop(stale).close()
        connector = _CONNECTORS[key] = build_connector(system)
    try:
        yield connector
    except Deferred:
        raise  # the system will answer later: nothing wrong with the connector
    except BaseException:
        _CONNECTORS.pop(key, None)
        connector.close()  # a broken connection must not serve the next job
        raise


def subject_for(job: ConnectorJob) -> Subject:
    """The person as this job sees them: what they gave, plus what identity sources found."""
    identifiers = dict(job.request.identifiers or {})
    if job.phase > 0 and getattr(job, "has_learned", True):  # known when the claim loaded the job
        for learned in ConnectorJob.objects.filter(
            request_id=job.request_id, phase__lt=job.phase, status=JobStatus.SUCCEEDED
        ).values_list("learned", flat=True):
            for kind, value in (learned or {}).items():
                identifiers.setdefault(kind, value)
    return Subject(request_id=str(job.request_id), identifiers=identifiers)


def requested_changes(job: ConnectorJob) -> dict[str, str]:
    """The corrections the officer accepted; rejected ones never reach a system."""
    return accepted_changes(job.request)


def context_for(job: ConnectorJob, *, external: bool) -> JobContext:
    token = ""
    if external:
        token = secrets.token_urlsafe(32)
        ConnectorJob.objects.filter(pk=job.pk).update(callback_token_hash=token_hash(token))
    due = job.request.effective_due_on
    return JobContext(
        job_id=str(job.pk),
        idempotency_key=job.idempotency_key,
        callback_url=settings.DSR_PUBLIC_URL + reverse("dsr:api-job-result", args=[job.pk]),
        callback_token=token,
        state=(job.result or {}).get("state") or {},
        # The system should be done well before the legal deadline: a week before where possible.
        deadline=timezone.make_aware(
            datetime.combine(max(due - timedelta(days=7), timezone.localdate()), time(0, 0))
        ),
    )


def callback_token_alive(job: ConnectorJob) -> bool:
    """A webhook's callback token lives no longer than the request's deadline (extended, if it
    was): after that day it opens nothing. It is used up by the result we accept; once the job
    is settled otherwise (an officer skipped it), a late result gets 409 and changes nothing."""
    return timezone.localdate() <= job.request.effective_due_on


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
