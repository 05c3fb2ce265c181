"""Fuzz the whole HTTP API from its own OpenAPI schema (schemathesis), in-process through WSGI.

Every operation in ``/api/schema/`` is fuzzed twice:

- as nobody: no credentials and generated path parameters, so every refusal (401, 404...)
  must be one the schema documents;
- as the actor the operation is for (a trusted integration, a subject with their status
  token, a connected system with its token, an officer with a personal token), with the
  ids of real objects put into the path, so generated bodies get past authentication and
  reach validation and the services behind it.

Each response must pass: no server error, a documented status code, the documented
content type, headers and body schema, and the schema must say what validation takes:

- ``negative_data_rejection``: data the schema refuses (a number where text is documented,
  text where a number is, a value outside an enum, pattern or limit) gets a 4xx. The API's
  fields are strict (``dsr.api.serializers``: ``Text``, ``WholeNumber``, ``TrueOrFalse``,
  ``Uuid``) and the officer actions' JSON is checked against the documented shape before
  the desk's shared, form-typed dispatch sees it.
- ``positive_data_acceptance``: data the schema allows is not refused with a 400. The
  schema documents the patterns, enums and limits validation enforces, and the intake's
  rules across fields as ``anyOf``. A business refusal of valid data (a request in the
  wrong state, a user or template that does not exist) is a documented 409. The one
  documented 400 a well-formed body still gets is a wrong or expired six-digit code: the
  check's configured expected statuses add 400 for the verify and download operations only.

Rate limits are relaxed for the fuzzing, or nearly every case would stop at the limit;
429 is documented on the rate-limited operations, and ``test_rate_limited_answers_conform``
holds the real 429s to the schema. Generation is seeded (deterministic in CI) and bounded:
the whole file runs in about a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dsr.core import selectors, tokens
from dsr.core.audit import Actor
from dsr.core.models import (
    ApiToken,
    ConnectorJob,
    DataSubjectRequest,
    IntegrationToken,
    Status,
    SystemConnection,
)
from dsr.core.roles import Role, grant
from dsr.desk.auth import token_hash as personal_token_hash
from dsr.engine import connections, fanout, outcomes
from dsr.results import access
from dsr.wsgi import application
from tests.conftest import code_from, last_code
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

# A well-formed six-digit code can still be the wrong one, or no longer the right one: the
# emailed-code operations answer that with their documented 400, which for them is the
# expected answer to schema-valid data too.
POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "429"]
CONFIG = schemathesis.Config.from_dict({
    "seed": 20260101,
    "generation": {"max-examples": 15},
    "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE}},
    "operations": [{
        "include-path-regex": r"/(verify|download)/$",
        "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE, "400"]}},
    }],
})
schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]
# A real server always says who is calling; the rate limits count by this address.
CLIENT = {"REMOTE_ADDR": "203.0.113.7"}
FUZZ_SETTINGS = hypothesis_settings(
    deadline=None,
    database=None,  # nothing replayed from earlier runs: the same cases every time
    # The database and the world below persist across a test's examples, on purpose:
    # later cases meet the state earlier ones left (a claimed job, a used code).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def in_test_transaction(settings):
    """Serve WSGI calls inside the test's transaction, as Django's own test client does."""
    for name in (
        "SUBMIT_PER_IP",
        "SUBMIT_PER_EMAIL",
        "VERIFY_PER_IP",
        "VERIFY_PER_EMAIL",
        "RESEND_PER_REQUEST",
    ):
        setattr(settings, f"DSR_RATE_{name}", "100000/h")
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@dataclass
class World:
    awaiting: DataSubjectRequest  # waits for its code
    released: DataSubjectRequest  # access request with a bundle to download
    released_token: str
    verified: DataSubjectRequest  # an officer may approve it
    job: ConnectorJob  # waits for the pull system to report
    system_token: str
    officer_token: str
    integration_token: str


@pytest.fixture
def world(django_capture_on_commit_callbacks, tmp_path, settings) -> World:
    settings.DSR_EXPORT_DIR = str(tmp_path / "exports")
    system = SystemConnection.objects.create(
        name="billing", connector="pull", config={"send_identifiers": ["email"]}
    )
    SystemConnection.objects.filter(pk=system.pk).update(token_hash=connections.token_hash("system-token"))
    scheduler = Actor.scheduler()
    released = RequestFactory(kind="access", status=Status.VERIFIED)
    with django_capture_on_commit_callbacks(execute=True):
        fanout.approve(released, actor=scheduler)
    with django_capture_on_commit_callbacks(execute=True):
        outcomes.report(
            released.jobs.get(),
            {
                "status": "completed",
                "records": [{"category": "orders", "fields": {"id": 1, "total": "9.50"}}],
            },
            actor=scheduler,
        )
    released.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        access.release(released, actor=scheduler)
        running = RequestFactory(kind="erasure", status=Status.VERIFIED)
        fanout.approve(running, actor=scheduler)
    officer = get_user_model().objects.create_user("officer", "officer@corp.example")
    grant(officer, Role.OFFICER)
    ApiToken.objects.create(user=officer, key_hash=personal_token_hash("officer-token"))
    IntegrationToken.objects.create(name="website", token_hash=connections.token_hash("integration-token"))
    world = World(
        awaiting=RequestFactory(kind="access"),
        released=released,
        released_token=tokens.status_token(released),
        verified=RequestFactory(kind="access", status=Status.VERIFIED),
        job=running.jobs.get(),
        system_token="system-token",
        officer_token="officer-token",
        integration_token="integration-token",
    )
    assert world.released.status == Status.COMPLETED and selectors.current_bundle(world.released)
    assert world.job.status == "waiting"
    return world


def as_actor(case, world: World) -> None:
    """Credentials and real ids for the actor this operation is for."""
    path, params = case.path, case.path_parameters or {}
    if path.startswith("/api/v1/desk/"):
        token = f"Token {world.officer_token}"
        ids = {"request_id": str(world.verified.pk), "job_id": str(world.job.pk)}
    elif path.startswith("/api/v1/systems/"):
        token, ids = f"Bearer {world.system_token}", {"job_id": str(world.job.pk)}
    elif path == "/api/v1/requests/":
        token, ids = f"Bearer {world.integration_token}", {}
    elif path.endswith(("/verify/", "/resend/")):
        token, ids = None, {"reference": world.awaiting.reference}
    else:  # the subject's own request: status, download code, download
        token, ids = f"Bearer {world.released_token}", {"reference": world.released.reference}
    params.update({name: value for name, value in ids.items() if name in params})
    if token:
        case.headers = {**(case.headers or {}), "Authorization": token}


@schema.parametrize()
@FUZZ_SETTINGS
def test_as_nobody(case):
    case.call_and_validate(environ_base=CLIENT, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_as_its_actor(case, world, django_capture_on_commit_callbacks):
    as_actor(case, world)
    # Run what the call queues (emails, jobs) too: a crash there is a finding as well.
    with django_capture_on_commit_callbacks(execute=True):
        case.call_and_validate(environ_base=CLIENT, checks=CHECKS)


# --- answers the fuzzer cannot reach by chance ---------------------------------------------


def _call(path: str, method: str, **kwargs):
    case = schema[path][method].Case(**kwargs)
    response = case.call(environ_base=CLIENT)
    case.validate_response(response, checks=CHECKS)
    return response


@pytest.mark.parametrize(
    ("path", "limit", "setting"),
    [
        ("/api/v1/requests/", 2, "DSR_RATE_SUBMIT_PER_IP"),
        ("/api/v1/requests/{reference}/verify/", 2, "DSR_RATE_VERIFY_PER_IP"),
        ("/api/v1/requests/{reference}/resend/", 2, "DSR_RATE_RESEND_PER_REQUEST"),
        ("/api/v1/requests/{reference}/download/code/", 2, "DSR_RATE_RESEND_PER_REQUEST"),
        ("/api/v1/requests/{reference}/download/", 2, "DSR_RATE_VERIFY_PER_IP"),
    ],
)
def test_rate_limited_answers_conform(path, limit, setting, world, settings):
    setattr(settings, setting, f"{limit}/h")
    kwargs: dict = {}
    if path == "/api/v1/requests/":
        kwargs["body"] = {"kind": "access", "email": "fuzz@example.com", "country": "DE"}
    elif path.endswith(("/verify/", "/resend/")):
        kwargs["path_parameters"] = {"reference": world.awaiting.reference}
        kwargs["body"] = {"code": "000000"} if path.endswith("/verify/") else None
    else:
        kwargs["path_parameters"] = {"reference": world.released.reference}
        kwargs["headers"] = {"Authorization": f"Bearer {world.released_token}"}
        kwargs["body"] = {"code": "000000"} if path.endswith("/download/") else None
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    statuses = [_call(path, "POST", **kwargs).status_code for _ in range(limit + 1)]
    assert 429 not in statuses[:limit] and statuses[-1] == 429, statuses


def test_a_right_code_and_a_download_conform(world, django_capture_on_commit_callbacks):
    reference = world.awaiting.reference
    with django_capture_on_commit_callbacks(execute=True):
        _call(
            "/api/v1/requests/{reference}/resend/", "POST", path_parameters={"reference": reference}
        )
    email = world.awaiting.identifiers["email"]
    verified = _call(
        "/api/v1/requests/{reference}/verify/",
        "POST",
        path_parameters={"reference": reference},
        body={"code": last_code(email)},
    )
    assert verified.status_code == 200 and verified.json()["status"] == "verified"

    auth = {"Authorization": f"Bearer {world.released_token}"}
    released = {"reference": world.released.reference}
    with django_capture_on_commit_callbacks(execute=True):
        sent = _call(
            "/api/v1/requests/{reference}/download/code/",
            "POST",
            path_parameters=released,
            headers=auth,
        )
    assert sent.status_code == 202
    code = code_from(mail.outbox[-1])
    download = _call(
        "/api/v1/requests/{reference}/download/",
        "POST",
        path_parameters=released,
        headers=auth,
        body={"code": code},
    )
    assert download.status_code == 200 and download.headers["content-type"] == ["application/zip"]
    assert download.content.startswith(b"PK")


def test_input_of_another_type_than_documented_is_refused(world):
    """DRF's own fields take "5" for 5, 1 or "yes" for true and {} for the text "{}"; the desk's
    actions took any JSON value as text. Each of these is a 400 now, and changes nothing."""
    officer = {"Authorization": f"Token {world.officer_token}"}
    system = {"Authorization": f"Bearer {world.system_token}"}
    job = {"job_id": str(world.job.pk)}
    request = {"request_id": str(world.verified.pk)}
    cases = [
        ("/api/v1/desk/jobs/{job_id}/{action}/", {**job, "action": "complete"}, officer, {"note": {}}),
        ("/api/v1/desk/jobs/{job_id}/{action}/", {**job, "action": "complete"}, officer,
         {"note": "done", "affected": "5"}),
        ("/api/v1/desk/jobs/{job_id}/{action}/", {**job, "action": "skip"}, officer, {"reason": ["not", "text"]}),
        ("/api/v1/desk/requests/{request_id}/{action}/", {**request, "action": "note"}, officer, {"text": 5}),
        ("/api/v1/desk/requests/{request_id}/{action}/", {**request, "action": "assign"}, officer,
         {"assignee": "1"}),
        ("/api/v1/desk/requests/{request_id}/{action}/", {**request, "action": "approve"}, officer, ["a list"]),
        ("/api/v1/desk/requests/{request_id}/message/", request, officer, {"text": {"a": "b"}}),
        ("/api/v1/systems/jobs/{job_id}/result/", job, system, {"status": "completed", "affected": "5"}),
        ("/api/v1/systems/jobs/{job_id}/result/", job, system,
         {"status": "failed", "error": "gone", "permanent": "yes"}),
    ]
    for path, parameters, headers, body in cases:
        response = _call(path, "POST", path_parameters=parameters, headers=headers, body=body)
        assert response.status_code == 400, (path, body, response.content)
    world.job.refresh_from_db()
    world.verified.refresh_from_db()
    assert world.job.status == "waiting" and world.verified.status == Status.VERIFIED
    assert not world.verified.notes.exists() and not world.verified.messages.exists()


def test_an_empty_number_in_the_queue_filters_is_refused(world):
    """``due_within`` is documented as a number, like ``limit``: empty is a 400, not "no filter"."""
    officer = {"Authorization": f"Token {world.officer_token}"}
    for query in ({"due_within": ""}, {"due_within": "x"}, {"status": "nonsense"}, {"assignee": "someone"}):
        response = _call("/api/v1/desk/requests/", "GET", query=query, headers=officer)
        assert response.status_code == 400, (query, response.content)
    assert _call("/api/v1/desk/requests/", "GET", query={"due_within": "7", "status": ""},
                 headers=officer).status_code == 200
