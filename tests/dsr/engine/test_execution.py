"""The fan-out engine: jobs created, claimed, run, retried, failed visibly, never lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from connectors import registry
from connectors.memory import MemoryConnector
from dsr.core import storage
from dsr.core.audit import Actor
from dsr.core.models import AuditEvent, ConnectorJob, JobStatus, Status, SystemConnection
from dsr.engine import current, fanout, outcomes, recovery, runner
from tests.dsr.flaky import FlakyConnector, PollingConnector
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

ALICE = "alice@example.com"


@pytest.fixture(autouse=True)
def fresh_connectors(monkeypatch, settings):
    settings.DSR_RETRY_BASE_SECONDS = 0
    MemoryConnector.reset()
    FlakyConnector.calls.clear()
    monkeypatch.setitem(registry.BUILTINS, "flaky", "tests.dsr.flaky:FlakyConnector")
    monkeypatch.setitem(registry.BUILTINS, "crashing", "tests.dsr.flaky:CrashingConnector")
    registry.available.cache_clear()
    registry.load.cache_clear()
    yield
    MemoryConnector.reset()
    registry.available.cache_clear()
    registry.load.cache_clear()


def memory_system(name, records, **extra):
    return SystemConnection.objects.create(
        name=name, connector=extra.pop("connector", "memory"), config={"records": records, **extra.pop("config", {})}, **extra
    )


def people(category="profile"):
    return [
        {"category": category, "fields": {"email": ALICE, "name": "Alice"}},
        {"category": category, "fields": {"email": "bob@example.com", "name": "Bob"}},
    ]


@pytest.fixture
def run_now(django_capture_on_commit_callbacks):
    """Approve and let the (eager) tasks run to the end."""

    def approve(request):
        with django_capture_on_commit_callbacks(execute=True):
            fanout.approve(request, actor=Actor.scheduler())
        request.refresh_from_db()
        return request

    return approve


def verified(kind="access", email=ALICE, **extra):
    extra.setdefault("status", Status.VERIFIED)
    return RequestFactory(kind=kind, identifiers={"email": email}, **extra)


def test_access_exports_every_system_and_moves_to_review(run_now):
    memory_system("crm", people())
    memory_system("support", [{"category": "tickets", "fields": {"email": ALICE, "body": "help"}}])
    request = run_now(verified("access"))
    assert request.status == Status.REVIEW
    done = list(request.jobs.order_by("system__name"))
    assert [(j.system.name, j.action, j.status) for j in done] == [
        ("crm", "export", "succeeded"),
        ("support", "export", "succeeded"),
    ]
    records = list(storage.read_records(done[0].export_file))
    assert records == [{"category": "profile", "fields": {"email": ALICE, "name": "Alice"}}]
    assert done[0].export_records == 1 and len(done[0].export_sha256) == 64
    raw = (storage.export_root() / done[0].export_file).read_bytes()
    assert b"Alice" not in raw and ALICE.encode() not in raw
    verbs = list(AuditEvent.objects.filter(request=request).values_list("verb", flat=True))
    assert verbs.count("job.succeeded") == 2 and verbs[-1] == "status.review"


def test_erasure_removes_the_records_verifies_and_completes(run_now):
    memory_system("crm", people())
    request = run_now(verified("erasure"))
    assert request.status == Status.COMPLETED
    job = request.jobs.get()
    assert job.affected == 1
    assert job.result["verified"] is True
    assert job.result["receipt"]["by_category"] == {"profile": 1}
    remaining = MemoryConnector(name="crm", config={"records": []}).store
    assert [r["fields"]["email"] for r in remaining] == ["bob@example.com"]


def test_an_identity_source_is_asked_first_and_its_identifiers_reach_the_others(run_now):
    memory_system(
        "accounts",
        [{"category": "account", "fields": {"email": ALICE, "customer_id": "C-42"}}],
        identity_source=True,
        config={"identity_fields": ["customer_id"]},
        actions=["locate"],
    )
    memory_system("billing", [{"category": "invoices", "fields": {"customer_id": "C-42", "total": 9}}])
    request = run_now(verified("erasure"))
    assert request.status == Status.COMPLETED
    locate = request.jobs.get(system__name="accounts")
    assert (locate.phase, locate.action, locate.learned) == (0, "locate", {"customer_id": "C-42"})
    billing = request.jobs.get(system__name="billing")
    assert billing.affected == 1
    assert MemoryConnector(name="billing").store == []
    # Learned identifiers are personal data: never in clear in the job row's plain columns.
    assert "C-42" not in str(locate.result)


def test_a_system_that_fails_twice_then_works_is_retried_to_success(run_now):
    memory_system("crm", people(), connector="flaky", config={"fail_times": 2})
    request = run_now(verified("erasure"))
    job = request.jobs.get()
    assert (job.status, job.attempts, job.error) == ("succeeded", 3, "")
    assert request.status == Status.COMPLETED
    retries = AuditEvent.objects.filter(request=request, verb="job.retry_scheduled")
    assert retries.count() == 2
    assert "crm is unavailable" in retries.first().details["error"]


def test_a_system_that_always_fails_is_failed_after_its_attempts_and_holds_the_request_open(run_now):
    memory_system("crm", people(), connector="flaky", config={"fail_times": 99}, max_attempts=3)
    memory_system("support", people("tickets"))
    request = run_now(verified("erasure"))
    failed = request.jobs.get(system__name="crm")
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert "unavailable" in failed.error
    assert request.jobs.get(system__name="support").status == "succeeded"
    assert request.status == Status.IN_PROGRESS  # never reported as done
    assert AuditEvent.objects.filter(request=request, verb="request.needs_attention").count() == 1


def test_a_permanent_error_fails_at_once(run_now):
    memory_system("crm", people(), connector="flaky", config={"fail_times": 1, "permanent": True})
    request = run_now(verified("erasure"))
    job = request.jobs.get()
    assert (job.status, job.attempts) == ("failed", 1)


def test_an_officer_retry_after_a_fix_finishes_the_request(run_now, django_capture_on_commit_callbacks):
    memory_system("crm", people(), connector="flaky", config={"fail_times": 2}, max_attempts=2)
    request = run_now(verified("erasure"))
    job = request.jobs.get()
    assert job.status == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        assert fanout.retry_job(job, actor=Actor.scheduler())
    request.refresh_from_db()
    job.refresh_from_db()
    assert (job.status, request.status) == ("succeeded", Status.COMPLETED)


def test_residual_data_after_erasure_fails_the_job(run_now):
    memory_system("crm", people(), connector="flaky", config={"residual": True}, max_attempts=2)
    request = run_now(verified("erasure"))
    job = request.jobs.get()
    assert job.status == "failed"
    assert job.error.startswith("residual data: 1 records still found")
    assert request.status == Status.IN_PROGRESS


def test_a_crashing_connector_is_retried_then_failed_not_lost(run_now):
    memory_system("crm", people(), connector="crashing", max_attempts=2)
    request = run_now(verified("erasure"))
    job = request.jobs.get()
    assert (job.status, job.attempts) == ("failed", 2)
    assert job.error == "unexpected error in the connector: ZeroDivisionError"


def test_an_unknown_connector_fails_visibly_with_a_clear_message(run_now):
    SystemConnection.objects.create(name="legacy", connector="cobol")
    request = run_now(verified("erasure"))
    job = request.jobs.get()
    assert job.status == "failed"
    assert "unknown connector 'cobol'" in job.error


def test_a_disabled_system_or_one_without_the_action_gets_no_job(run_now):
    memory_system("old", people(), enabled=False)
    memory_system("readonly", people(), actions=["locate", "export"])
    memory_system("crm", people())
    request = run_now(verified("erasure"))
    assert [j.system.name for j in request.jobs.all()] == ["crm"]


def test_two_workers_cannot_run_the_same_job():
    memory_system("crm", people())
    request = verified("erasure")
    job = ConnectorJob.objects.create(
        request=request, system=SystemConnection.objects.get(), action="erase", idempotency_key="k1"
    )
    first = runner._claim(str(job.pk))
    second = runner._claim(str(job.pk))
    assert first is not None and second is None
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("running", 1)


def test_a_job_whose_worker_died_is_claimed_again_after_its_lease(django_capture_on_commit_callbacks):
    memory_system("crm", people())
    request = verified("erasure", status=Status.IN_PROGRESS)
    job = ConnectorJob.objects.create(
        request=request, system=SystemConnection.objects.get(), action="erase", idempotency_key="k2",
        status=JobStatus.RUNNING, attempts=1, lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        counts = recovery.reconcile()
    assert counts["expired_leases"] == 1
    job.refresh_from_db()
    request.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert request.status == Status.COMPLETED


def test_the_reconciler_requeues_a_lost_message(django_capture_on_commit_callbacks, settings):
    memory_system("crm", people())
    request = verified("access")
    with django_capture_on_commit_callbacks(execute=False):  # the queue message is lost
        fanout.approve(request, actor=Actor.scheduler())
    job = request.jobs.get()
    assert job.status == "pending"
    ConnectorJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        counts = recovery.reconcile()
    assert counts["stale_requests"] == 1
    request.refresh_from_db()
    assert request.status == Status.REVIEW


@pytest.fixture
def polling_vendor(monkeypatch):
    """A vendor whose deletion finishes later, asked ``checks`` times in all."""
    monkeypatch.setitem(registry.BUILTINS, "polling", "tests.dsr.flaky:PollingConnector")
    registry.load.cache_clear()
    PollingConnector.started.clear()

    def make(checks):
        return memory_system("vendor", people(), connector="polling", config={"checks": checks})

    return make


def poll_now(job, django_capture_on_commit_callbacks):
    """The poll is due: the worker runs the job again (as its queued task would)."""
    ConnectorJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        runner.run(str(job.pk))
    job.refresh_from_db()
    return job


def test_a_vendor_deletion_that_finishes_later_is_started_once_and_polled_to_completion(
    run_now, polling_vendor, django_capture_on_commit_callbacks
):
    polling_vendor(checks=2)
    request = run_now(verified("erasure"))
    job = request.jobs.get()
    assert (job.status, job.attempts, request.status) == ("pending", 0, Status.IN_PROGRESS)
    assert job.result["state"] == {"deletion": "d-1", "checks": 0}
    assert 25 < (job.next_attempt_at - timezone.now()).total_seconds() <= 30

    assert poll_now(job, django_capture_on_commit_callbacks).status == "pending"
    assert job.result["state"] == {"deletion": "d-1", "checks": 1}
    job = poll_now(job, django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert (job.status, job.attempts, request.status) == ("succeeded", 1, Status.COMPLETED)
    assert PollingConnector.started == [str(request.pk)]  # started once, then only asked
    assert job.result["receipt"]["affected"] == 1 and job.result["verified"] is True
    assert AuditEvent.objects.filter(request=request, verb="job.poll_scheduled").count() == 2


def test_a_vendor_deletion_that_never_finishes_fails_visibly_after_the_poll_limit(
    run_now, polling_vendor, django_capture_on_commit_callbacks, settings
):
    settings.DSR_POLL_MAX_DAYS = 2
    polling_vendor(checks=1000)
    request = run_now(verified("erasure"))
    job = request.jobs.get()
    assert poll_now(job, django_capture_on_commit_callbacks).status == "pending"
    three_days_ago = (timezone.now() - timedelta(days=3)).isoformat()
    ConnectorJob.objects.filter(pk=job.pk).update(result={**job.result, "polling_since": three_days_ago})
    job = poll_now(job, django_capture_on_commit_callbacks)
    assert job.status == "failed"
    assert job.error == "still not finished after 2 days: deletion d-1 running"
    request.refresh_from_db()
    assert request.status == Status.IN_PROGRESS  # held open for an officer, not completed


def test_a_system_reached_through_a_template_gets_only_the_jobs_its_template_can_do(run_now):
    SystemConnection.objects.create(  # Segment's template can erase, and nothing else
        name="analytics", connector="saas", config={"template": "segment"}, secrets={"token": "t"}
    )
    memory_system("crm", people())
    request = run_now(verified("access"))
    assert [job.system.name for job in request.jobs.all()] == ["crm"]
    assert request.status == Status.REVIEW


def test_a_job_result_is_recorded_only_while_the_claim_holds():
    memory_system("crm", people())
    request = verified("erasure", status=Status.IN_PROGRESS)
    job = ConnectorJob.objects.create(
        request=request, system=SystemConnection.objects.get(), action="erase", idempotency_key="k3"
    )
    mine = runner._claim(str(job.pk))
    # The lease ran out and another worker took the job over.
    ConnectorJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    theirs = runner._claim(str(job.pk))
    assert theirs.attempts == 2
    assert outcomes.succeed(mine, outcomes.Outcome(affected=1)) is None
    assert outcomes.succeed(theirs, outcomes.Outcome(affected=1)) == "succeeded"
    assert AuditEvent.objects.filter(verb="job.succeeded").count() == 1


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling(settings):
    settings.DSR_RETRY_BASE_SECONDS = 10
    settings.DSR_RETRY_MAX_SECONDS = 100
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)]:
        delays = [outcomes.backoff(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1


def test_a_rectification_sends_only_the_accepted_corrections(run_now):
    from dsr.engine.fanout import NotReadyToApprove
    from dsr.results import rectification

    memory_system("crm", [{"category": "profile", "fields": {"email": ALICE, "name": "Alice", "city": "Paris"}}])
    request = verified(
        "rectification",
        changes=[{"field": "name", "value": "Alice Smith"}, {"field": "city", "value": "Lyon"}],
    )
    with pytest.raises(NotReadyToApprove, match="undecided: 1, 2"):
        fanout.approve(request, actor=Actor.scheduler())
    current.read_current(str(request.pk))  # what verification queues: the values the officer decides against
    with pytest.raises(rectification.DecisionRefused, match="Say why correction 2"):
        rectification.decide(request, {1: (False, "")}, actor=Actor.scheduler())
    request = rectification.decide(
        request, {0: (True, ""), 1: (False, "our records show Paris")}, actor=Actor.scheduler()
    )
    request = run_now(request)
    assert request.status == Status.REVIEW
    assert request.jobs.get().affected == 1
    assert MemoryConnector(name="crm").store[0]["fields"] == {"email": ALICE, "name": "Alice Smith", "city": "Paris"}


@override_settings(DSR_AUTO_APPROVE_KINDS=frozenset({"erasure"}))
def test_auto_approval_starts_the_work_when_the_person_verifies(
    api, file_request, django_capture_on_commit_callbacks
):
    from dsr.core.models import DataSubjectRequest
    from tests.conftest import last_code

    memory_system("crm", people())
    created = file_request(kind="erasure", email=ALICE)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/v1/requests/{created['reference']}/verify/", {"code": last_code(ALICE)}, format="json"
        )
    assert response.status_code == 200
    request = DataSubjectRequest.objects.get(reference=created["reference"])
    assert request.status == Status.COMPLETED
    assert request.jobs.get().affected == 1
    verbs = list(AuditEvent.objects.filter(request=request).values_list("verb", flat=True))
    assert verbs.index("status.verified") < verbs.index("status.approved") < verbs.index("status.completed")


def _batching_system(**config):
    from tests.dsr.flaky import BatchingConnector

    BatchingConnector.batches.clear()
    records = [{"category": "profile", "fields": {"email": f"p{i}@example.com"}} for i in range(5)]
    return SystemConnection.objects.create(
        name="crm", connector="batching", config={"records": records, **config}, max_attempts=2
    )


def _queued_erasures(n, capture):
    requests = [verified("erasure", email=f"p{i}@example.com") for i in range(n)]
    with capture(execute=False):  # approved in a burst; the queue has not run yet
        for request in requests:
            fanout.approve(request, actor=Actor.scheduler())
    return requests


def test_a_burst_of_erasures_for_one_system_goes_out_in_one_batch(
    monkeypatch, django_capture_on_commit_callbacks
):
    from tests.dsr.flaky import BatchingConnector

    monkeypatch.setitem(registry.BUILTINS, "batching", "tests.dsr.flaky:BatchingConnector")
    registry.available.cache_clear()
    registry.load.cache_clear()
    _batching_system()
    requests = _queued_erasures(4, django_capture_on_commit_callbacks)
    first_job = requests[0].jobs.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert runner.run(str(first_job.pk)) == "succeeded"
    assert BatchingConnector.batches == [4]
    for request in requests:
        request.refresh_from_db()
        job = request.jobs.get()
        assert (request.status, job.affected, job.result["verified"], job.result["batch"]) == (
            Status.COMPLETED, 1, True, 4,
        )
    assert [r["fields"]["email"] for r in MemoryConnector(name="crm").store] == ["p4@example.com"]


def test_a_failed_batch_retries_each_job_and_a_missing_receipt_fails_only_its_job(
    monkeypatch, django_capture_on_commit_callbacks
):
    from tests.dsr.flaky import BatchingConnector

    monkeypatch.setitem(registry.BUILTINS, "batching", "tests.dsr.flaky:BatchingConnector")
    registry.available.cache_clear()
    registry.load.cache_clear()
    _batching_system(forget="p1@example.com")
    requests = _queued_erasures(3, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        runner.run(str(requests[0].jobs.get().pk))
    statuses = {r.identifiers["email"]: r.jobs.get().status for r in requests}
    assert statuses == {"p0@example.com": "succeeded", "p1@example.com": "failed", "p2@example.com": "succeeded"}
    assert "no receipt" in requests[1].jobs.get().error
    assert BatchingConnector.batches[0] == 3
