"""DSR_AUTO_RELEASE_KINDS: access results released without review, by the system, when a company
asks for it; off by default."""

from __future__ import annotations

import pytest
from django.core import mail

from connectors.memory import MemoryConnector
from dsr.core.audit import Actor
from dsr.core.models import AuditEvent, Status, SystemConnection
from dsr.engine import fanout
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm():
    MemoryConnector.reset()
    SystemConnection.objects.create(name="crm", connector="memory", config={
        "records": [{"category": "profile", "fields": {"email": "auto@example.com", "plan": "basic"}}]})
    yield
    MemoryConnector.reset()


def approve(kind, capture):
    request = RequestFactory(kind=kind, status=Status.VERIFIED, identifiers={"email": "auto@example.com"})
    with capture(execute=True):
        fanout.approve(request, actor=Actor.scheduler())
    request.refresh_from_db()
    return request


def test_by_default_access_results_wait_for_an_officers_review(crm, django_capture_on_commit_callbacks):
    request = approve("access", django_capture_on_commit_callbacks)
    assert request.status == Status.REVIEW and not request.bundles.exists()


def test_the_system_releases_the_kinds_the_setting_names(crm, settings, django_capture_on_commit_callbacks):
    settings.DSR_AUTO_RELEASE_KINDS = frozenset({"access"})
    request = approve("access", django_capture_on_commit_callbacks)
    assert request.status == Status.COMPLETED and request.outcome == "completed"
    assert request.bundles.get().released_by is None
    released = AuditEvent.objects.get(request=request, verb="bundle.released")
    assert (released.actor_type, released.actor_id) == ("scheduler", "beat")  # the system, no officer
    assert AuditEvent.objects.filter(request=request, verb="results.auto_release").exists()
    assert any("auto@example.com" in m.to and "complete" in m.subject for m in mail.outbox)
    other = approve("portability", django_capture_on_commit_callbacks)
    assert other.status == Status.REVIEW  # not named: reviewed as usual


def test_a_release_queued_twice_releases_once(crm, settings, django_capture_on_commit_callbacks):
    from dsr.results.tasks import release_results

    settings.DSR_AUTO_RELEASE_KINDS = frozenset({"access"})
    request = approve("access", django_capture_on_commit_callbacks)
    assert release_results(str(request.pk)) == ""
    assert request.bundles.count() == 1
