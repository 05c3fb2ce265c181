"""Property tests of everything that parses outside input.

For each parser: arbitrary input never raises anything but its documented validation
error, and valid input comes back out as it went in. The parsers are the public request
form, the API's request serializer, the systems file (``load_systems``), a system's job
result (the jobs API and webhook callbacks) and a webhook system's answers.
"""

from __future__ import annotations

import string

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import registry
from connectors.base import ConnectorError, Deferred, JobContext, Subject
from connectors.webhook import WebhookConnector
from dsr.api.serializers import RequestCreateSerializer
from dsr.api.systems import ResultSerializer
from dsr.core.audit import Actor
from dsr.core.models import (
    ConnectorAction,
    ConnectorJob,
    DataSubjectRequest,
    Kind,
    Regime,
    RequesterType,
    Status,
    SystemConnection,
)
from dsr.core.regimes import country_choices, us_state_choices
from dsr.engine import fanout, systems
from dsr.engine.connections import token_hash
from dsr.intake.forms import CHANGE_ROWS, RequestForm
from dsr.intake.submission import submit_request
from tests.connectors.webhook_server import WebhookServer
from tests.factories import RequestFactory

PROPERTY = settings(max_examples=60, deadline=None, database=None)
# Tests that talk to a real HTTP server on 127.0.0.1 (a module fixture, reused by every example).
SERVER_PROPERTY = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# Tests that write to the database: fewer examples, and the rows of one example stay for
# the next (names are drawn unique where that matters).
DB_PROPERTY = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# --- strategies ---------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
# Text as a person types it: no NUL (refused, tested in test_bad_input), no edge whitespace
# (the form strips it).
typed = (
    st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=60)
    .map(str.strip)
    .filter(bool)
)
emails = st.builds(
    "{}@{}.{}".format,
    st.text(string.ascii_lowercase + string.digits + "._+-", min_size=1, max_size=20).filter(
        lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s
    ),
    st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=15),
    st.sampled_from(["com", "org", "de", "co.uk"]),
)
COUNTRIES = [code for code, _ in country_choices()]
STATES = [code for code, _ in us_state_choices()]


@st.composite
def where(draw):
    country = draw(st.sampled_from(COUNTRIES))
    return country, draw(st.sampled_from(STATES)) if country == "US" else ""


@st.composite
def valid_submissions(draw):
    """What a person may validly ask for, as plain values."""
    kind = draw(st.sampled_from(Kind.values))
    country, state = draw(where())
    agent = draw(
        st.none() | st.fixed_dictionaries({"name": typed, "email": emails, "organisation": typed})
    )
    changes = (
        draw(
            st.lists(
                st.fixed_dictionaries({"field": typed.map(lambda s: s[:100]), "value": typed}),
                min_size=1,
                max_size=CHANGE_ROWS,
            )
        )
        if kind == Kind.RECTIFICATION
        else []
    )
    return {
        "kind": kind,
        "email": draw(emails),
        "name": draw(st.just("") | typed),
        "country": country,
        "state": state,
        "details": draw(st.just("") | typed),
        "changes": changes,
        "requester_type": RequesterType.AGENT if agent else RequesterType.SUBJECT,
        "agent": agent,
    }


# --- the public request form --------------------------------------------------------------

FORM_FIELDS = list(RequestForm().fields)


@PROPERTY
@given(st.dictionaries(st.sampled_from(FORM_FIELDS) | st.text(max_size=10), st.text(max_size=300)))
def test_the_form_takes_any_post_without_raising(data):
    form = RequestForm(data)
    valid = form.is_valid()
    assert valid is (not form.errors)
    for field, messages in form.errors.items():
        assert field == "__all__" or field in form.fields
        assert messages and all(isinstance(m, str) and m for m in messages)


@PROPERTY
@given(valid_submissions())
def test_a_valid_form_round_trips_into_the_submission(values):
    data = {
        key: values[key]
        for key in ("kind", "email", "name", "country", "state", "details", "requester_type")
    }
    for i, change in enumerate(values["changes"], start=1):
        data[f"change_field_{i}"], data[f"change_value_{i}"] = change["field"], change["value"]
    if values["agent"]:
        data.update({f"agent_{key}": value for key, value in values["agent"].items()})
    form = RequestForm(data)
    assert form.is_valid(), form.errors
    sub = form.submission
    assert (sub.kind, sub.email, sub.name, sub.country, sub.subdivision, sub.details) == (
        values["kind"],
        values["email"],
        values["name"],
        values["country"],
        values["state"],
        values["details"],
    )
    assert sub.changes == values["changes"]
    assert sub.agent == values["agent"]


# --- the API's serializers: a request, and a system's job result ---------------------------

RESULT_FIELDS = list(ResultSerializer().fields)


@pytest.mark.parametrize("serializer_class", [RequestCreateSerializer, ResultSerializer])
@PROPERTY
@given(data=st.data())
def test_the_api_serializers_take_any_json_without_raising(serializer_class, data):
    """Any JSON, and objects with the serializer's own field names holding any JSON."""
    names = list(serializer_class().fields)
    serializer = serializer_class(
        data=data.draw(json_values | st.dictionaries(st.sampled_from(names), json_values))
    )
    valid = serializer.is_valid()
    assert valid is not bool(serializer.errors)
    if valid:
        assert set(serializer.validated_data) <= {*names, "submission"}
        assert serializer.validated_data.get("submission", serializer.validated_data.get("status"))


@pytest.mark.django_db
@DB_PROPERTY
@given(valid_submissions(), st.sampled_from([None, *Regime.values]))
def test_a_valid_api_request_round_trips_into_the_stored_request(values, regime):
    body = {key: value for key, value in values.items() if value not in (None, "", [])}
    if regime:
        body["regime"] = regime
    serializer = RequestCreateSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    stored = DataSubjectRequest.objects.get(
        pk=submit_request(serializer.validated_data["submission"]).pk
    )
    assert stored.kind == values["kind"] and stored.email == values["email"]
    assert stored.identifiers.get("name", "") == values["name"]
    assert (stored.country, stored.subdivision) == (values["country"], values["state"])
    assert (stored.details or {}).get("text", "") == values["details"]
    assert (stored.changes or []) == values["changes"]
    assert stored.agent == values["agent"]
    if regime:
        assert stored.regime == regime


# --- the systems file (load_systems) ------------------------------------------------------

FIELDS = sorted(systems._FIELDS)
CONNECTORS = sorted(registry.available())
slugs = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)


@PROPERTY
@given(st.text(max_size=400))
def test_any_text_is_a_systems_file_or_a_clear_error(text):
    try:
        parsed = systems.parse(text, environ={})
    except systems.SystemsFileError as exc:
        assert str(exc)
    else:
        assert isinstance(parsed, list)


@st.composite
def system_entries(draw):
    """A system entry whose every field may have any shape (the name keeps the slug rule)."""
    entry = {"name": draw(slugs), "connector": draw(st.sampled_from(CONNECTORS) | json_values)}
    for field in draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=6)):
        entry[field] = draw(json_values | st.dates())
    return entry


@PROPERTY
@given(st.lists(system_entries(), max_size=3) | json_values)
def test_any_yaml_structure_is_a_systems_file_or_a_clear_error(entries):
    text = yaml.safe_dump({"systems": entries}, allow_unicode=True)
    try:
        systems.parse(text, environ={"SET": "value"})
    except systems.SystemsFileError as exc:
        assert str(exc)


@pytest.mark.django_db
@DB_PROPERTY
@given(st.lists(system_entries(), max_size=3, unique_by=lambda e: e["name"]))
def test_what_parses_also_loads(entries):
    """A file that passes validation must also store: no database error after the check."""
    text = yaml.safe_dump({"systems": entries}, allow_unicode=True)
    try:
        systems.parse(text, environ={})
    except systems.SystemsFileError:
        return
    systems.load(text, environ={})


@st.composite
def valid_systems(draw):
    names = draw(st.lists(slugs, min_size=1, max_size=3, unique=True))
    return [
        {
            "name": name,
            "connector": "manual",
            "description": draw(typed),
            "purposes": draw(st.lists(typed, max_size=3)),
            "recipients": draw(st.lists(typed, max_size=3)),
            "retention": draw(typed),
            "actions": draw(
                st.lists(st.sampled_from(ConnectorAction.values), min_size=1, unique=True)
            ),
            "max_attempts": draw(st.integers(1, 20)),
            "enabled": draw(st.booleans()),
            "config": {"instructions": draw(typed)},
            "secrets": {"token": "${TOKEN}"},
        }
        for name in names
    ]


@pytest.mark.django_db
@DB_PROPERTY
@given(valid_systems())
def test_a_valid_systems_file_round_trips(entries):
    SystemConnection.objects.filter(name__in=[e["name"] for e in entries]).delete()
    text = yaml.safe_dump({"systems": entries}, allow_unicode=True)
    outcome = systems.load(text, environ={"TOKEN": "t0ken"})
    assert sorted(outcome["created"]) == sorted(e["name"] for e in entries)
    for entry in entries:
        stored = SystemConnection.objects.get(name=entry["name"])
        for field, value in entry.items():
            expected = {"token": "t0ken"} if field == "secrets" else value
            assert getattr(stored, field) == expected, field
    assert sorted(systems.load(text, environ={"TOKEN": "t0ken"})["unchanged"]) == sorted(
        e["name"] for e in entries
    )


# --- a system's job result (jobs API and webhook callbacks) -------------------------------

counts = st.integers(0, 2**31 - 1)
results = st.fixed_dictionaries(
    {"status": st.sampled_from(["completed", "failed"])},
    optional={
        "found": counts,
        "affected": counts,
        "by_category": st.dictionaries(typed.map(lambda s: s[:50]), counts, max_size=3),
        "identifiers": st.dictionaries(
            st.sampled_from(["email", "phone", "customer_id"]), typed, max_size=3
        ),
        "records": st.lists(
            st.fixed_dictionaries(
                {
                    "category": typed.map(lambda s: s[:100]),
                    "fields": st.dictionaries(st.text(max_size=10), json_values),
                }
            ),
            max_size=3,
        ),
        "error": typed,
        "permanent": st.booleans(),
        "note": typed,
    },
)


@PROPERTY
@given(results)
def test_a_valid_job_result_round_trips(data):
    result = ResultSerializer(data=data)
    assert result.is_valid(), result.errors
    assert {key: result.validated_data[key] for key in data} == data


@pytest.fixture
def pull_jobs(django_capture_on_commit_callbacks):
    """A fresh job waiting for a pull system, for each example."""
    system = SystemConnection.objects.create(name="billing", connector="pull")
    SystemConnection.objects.filter(pk=system.pk).update(token_hash=token_hash("billing-token"))

    def waiting(kind: str) -> ConnectorJob:
        request = RequestFactory(kind=kind, status=Status.VERIFIED)
        with django_capture_on_commit_callbacks(execute=True):
            fanout.approve(request, actor=Actor.scheduler())
        return request.jobs.get()

    return waiting


def _post_result(api, job: ConnectorJob, body) -> None:
    """A body a system posts for its waiting job is recorded (200) or refused (400), nothing else."""
    response = api.post(
        f"/api/v1/systems/jobs/{job.pk}/result/",
        body,
        format="json",
        HTTP_AUTHORIZATION="Bearer billing-token",
    )
    assert response.status_code in (200, 400), response.content
    job.refresh_from_db()
    if response.status_code == 400:
        assert response.json()["error"] == "invalid" and job.status == "waiting"
    else:
        assert response.json() == {"id": str(job.pk), "status": job.status}
        assert job.status in ("succeeded", "pending", "failed")


@pytest.mark.django_db
@DB_PROPERTY
@given(
    kind=st.sampled_from([Kind.ACCESS, Kind.ERASURE]),
    body=results | json_values | st.dictionaries(st.sampled_from(RESULT_FIELDS), json_values),
)
def test_any_result_posted_to_a_waiting_job_is_recorded_or_refused(
    pull_jobs, kind, body, api, tmp_path, settings
):
    settings.DSR_EXPORT_DIR = str(tmp_path)
    _post_result(api, pull_jobs(kind), body)


# Any number (around the largest a job's counter holds, too) and any category name.
any_counts = st.integers() | st.integers(2**31 - 2, 2**64)


@pytest.mark.django_db
@DB_PROPERTY
@given(
    body=st.fixed_dictionaries(
        {"status": st.just("completed"), "affected": any_counts},
        optional={"by_category": st.dictionaries(st.text(max_size=120), any_counts, max_size=3)},
    )
)
def test_any_count_reported_for_an_erasure_is_recorded_or_refused(pull_jobs, body, api):
    _post_result(api, pull_jobs(Kind.ERASURE), body)


# --- a webhook system's answers -------------------------------------------------------------


@pytest.fixture(scope="module")
def webhook_system():
    with WebhookServer("answer-secret") as server:
        yield server


@SERVER_PROPERTY
@given(
    answer=json_values
    | st.fixed_dictionaries(
        {"status": st.sampled_from(["completed", "accepted", "failed"]) | json_values},
        optional={
            name: json_values
            for name in (
                "found",
                "affected",
                "by_category",
                "identifiers",
                "records",
                "error",
                "permanent",
            )
        },
    ),
    action=st.sampled_from(["locate", "export", "erase", "rectify"]),
    status=st.sampled_from([200, 202, 400, 503]),
)
def test_any_webhook_answer_is_a_result_or_a_connector_error(
    webhook_system, answer, action, status
):
    webhook_system.responder = lambda request: (status, answer)
    connector = WebhookConnector(
        name="crm",
        config={"url": webhook_system.url, "send_identifiers": ["email"], "timeout": 5},
        secrets={"signing_secret": "answer-secret"},
    )
    job = JobContext(
        job_id="j1", idempotency_key="k1", callback_url="http://127.0.0.1/cb", callback_token="t"
    )
    subject = Subject("r1", {"email": "alice@example.com"})
    call = {
        "locate": lambda: connector.locate(subject, job=job),
        "export": lambda: list(connector.export(subject, job=job)),
        "erase": lambda: connector.erase(subject, job=job),
        "rectify": lambda: connector.rectify(subject, {"name": "Alice"}, job=job),
    }[action]
    try:
        outcome = call()
    except (ConnectorError, Deferred) as exc:
        assert exc.message
        return
    assert outcome is not None
    assert status == 200 and isinstance(answer, dict) and answer.get("status") == "completed"
