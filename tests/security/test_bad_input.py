"""Hostile input, one kind per test: every one gets a clear 4xx (or is made harmless), never a 500.

Oversized bodies, JSON nested beyond any parser, text that is not UTF-8, header injection
through the email, path tricks in file names, formulas in the CSV files of a bundle, NUL
characters and numbers that are not numbers. (A plain oversized API body and plain bad UTF-8
in API JSON are tested with the intake API.)
"""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from connectors.signing import SignatureError, verify
from dsr.core import storage
from dsr.core.audit import Actor
from dsr.core.models import ApiToken, DataSubjectRequest, Note, Status, SystemConnection
from dsr.core.roles import Role, grant
from dsr.core.tokens import status_token
from dsr.desk.auth import token_hash as personal_token_hash
from dsr.engine import fanout
from dsr.engine.connections import token_hash
from dsr.results import access
from dsr.results.bundle import csv_cell
from tests.conftest import code_from, last_code
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

SYSTEM = {"HTTP_AUTHORIZATION": "Bearer billing-token"}
OFFICER = {"HTTP_AUTHORIZATION": "Token officer-token"}
FORM = {
    "kind": "access",
    "email": "alice@example.com",
    "country": "DE",
    "requester_type": "subject",
}


@pytest.fixture
def pull_system(settings, tmp_path):
    settings.DSR_EXPORT_DIR = str(tmp_path / "exports")
    system = SystemConnection.objects.create(name="billing", connector="pull")
    SystemConnection.objects.filter(pk=system.pk).update(token_hash=token_hash("billing-token"))
    return system


@pytest.fixture
def waiting_job(pull_system, django_capture_on_commit_callbacks):
    """A job of ``kind`` waiting for the pull system to report."""

    def make(kind="access"):
        request = RequestFactory(kind=kind, status=Status.VERIFIED)
        with django_capture_on_commit_callbacks(execute=True):
            fanout.approve(request, actor=Actor.scheduler())
        return request.jobs.get()

    return make


@pytest.fixture
def officer():
    user = get_user_model().objects.create_user("officer", "officer@corp.example")
    grant(user, Role.OFFICER)
    ApiToken.objects.create(user=user, key_hash=personal_token_hash("officer-token"))
    return user


def json_post(client, path, body: str | bytes, **headers):
    return client.post(path, body, content_type="application/json", **headers)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == code and response.json()["detail"]


# --- oversized bodies --------------------------------------------------------------------------


def test_an_oversized_form_is_refused_before_it_is_read(client, settings):
    body = {**FORM, "details": "x" * (settings.DSR_MAX_BODY_BYTES + 1)}
    response = client.post("/", body)
    assert response.status_code == 413
    assert f"larger than {settings.DSR_MAX_BODY_BYTES} bytes" in response.content.decode()
    assert not DataSubjectRequest.objects.exists()


def test_an_oversized_report_from_a_system_is_a_413_in_json(api, waiting_job, settings):
    settings.DSR_MAX_SYSTEM_BODY_BYTES = 10_000
    job = waiting_job()
    body = json.dumps({"status": "completed", "records": [{"fields": {"note": "x" * 10_000}}]})
    assert_error(
        json_post(api, f"/api/v1/systems/jobs/{job.pk}/result/", body, **SYSTEM), 413, "too_large"
    )
    job.refresh_from_db()
    assert job.status == "waiting"


# --- JSON nested beyond any parser ---------------------------------------------------------------

DEEP = ["[" * 100_000 + "]" * 100_000, '{"a":' * 30_000 + "1" + "}" * 30_000]


@pytest.mark.parametrize("body", DEEP, ids=["100k nested lists", "30k nested objects"])
def test_deeply_nested_json_is_a_400_everywhere(api, body, waiting_job, officer):
    job = waiting_job()
    request = RequestFactory()
    for path, headers in [
        ("/api/v1/requests/", {}),
        (f"/api/v1/requests/{request.reference}/verify/", {}),
        (f"/api/v1/systems/jobs/{job.pk}/result/", SYSTEM),
        (f"/api/v1/desk/requests/{request.pk}/note/", OFFICER),
    ]:
        assert_error(json_post(api, path, body, **headers), 400, "malformed_json")


# --- text that is not UTF-8 ----------------------------------------------------------------------


@pytest.mark.parametrize("escaped", ["\\ud800", "\\udfff", "a\\udc80b"])
def test_an_unpaired_surrogate_in_json_is_a_400(api, escaped, waiting_job, officer):
    """Valid JSON syntax, yet not Unicode: it could be neither encrypted nor stored."""
    job = waiting_job()
    request = RequestFactory()
    for path, body, headers in [
        (
            "/api/v1/requests/",
            f'{{"kind": "access", "email": "a@example.com", "country": "DE", "name": "{escaped}"}}',
            {},
        ),
        (
            f"/api/v1/systems/jobs/{job.pk}/result/",
            f'{{"status": "completed", "records": [{{"fields": {{"note": "{escaped}"}}}}]}}',
            SYSTEM,
        ),
        (f"/api/v1/desk/requests/{request.pk}/note/", f'{{"text": "{escaped}"}}', OFFICER),
    ]:
        assert_error(json_post(api, path, body, **headers), 400, "malformed_json")
    assert DataSubjectRequest.objects.count() == 2  # the two made above, nothing filed
    job.refresh_from_db()
    assert job.status == "waiting" and not Note.objects.exists()


@pytest.mark.parametrize(
    "name",
    [b"Jos%E9", b"Jos\xe9", b"%C3%28", b"%ED%A0%80"],
    ids=["latin-1 escape", "latin-1 byte", "bad sequence", "encoded surrogate"],
)
def test_a_form_that_is_not_utf8_is_a_400(client, name):
    body = b"kind=access&email=alice%40example.com&country=DE&requester_type=subject&name=" + name
    response = client.post("/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "character encoding" in response.content.decode()
    assert not DataSubjectRequest.objects.exists()


def test_the_same_form_in_utf8_is_filed(client):
    """The control for the test above: the form is otherwise valid."""
    body = b"kind=access&email=alice%40example.com&country=DE&requester_type=subject&name=Jos%C3%A9"
    response = client.post("/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302
    assert DataSubjectRequest.objects.get().identifiers["name"] == "José"


# --- header injection through the email ----------------------------------------------------------

INJECTED = "Eve\r\nBcc: mallory@attacker.example\r\nSubject: hijacked"


def test_nothing_a_person_or_officer_types_adds_a_header_to_our_mail(
    api, client, file_request, officer, django_capture_on_commit_callbacks
):
    for email in [
        "alice@example.com\r\nBcc: mallory@attacker.example",
        "alice@example.com%0aBcc:x@y.z",
    ]:
        response = api.post("/api/v1/requests/", {**FORM, "email": email}, format="json")
        assert_error(response, 400, "invalid")
        assert "email" in response.json()["fields"]
    form = client.post("/", {**FORM, "email": "alice@example.com\nBcc: mallory@attacker.example"})
    assert form.status_code == 400
    created = file_request(
        name=INJECTED,
        details=INJECTED,
        requester_type="agent",
        agent={"name": INJECTED, "email": "agent@example.com", "organisation": INJECTED},
    )
    request = DataSubjectRequest.objects.get(reference=created["reference"])
    assert request.identifiers["name"] == INJECTED  # kept as typed; only never a header
    api.post(
        f"/api/v1/requests/{request.reference}/verify/",
        {"code": last_code("alice@example.com")},
        format="json",
    )
    with django_capture_on_commit_callbacks(execute=True):
        denied = api.post(
            f"/api/v1/desk/requests/{request.pk}/deny/",
            {"reason": INJECTED},
            format="json",
            **OFFICER,
        )
    assert denied.status_code == 200, denied.content
    assert len(mail.outbox) >= 2
    for message in mail.outbox:
        assert message.to == ["alice@example.com"] and not message.bcc and not message.cc
        headers = message.message().as_bytes().split(b"\n\n", 1)[0].decode()
        assert "mallory" not in headers and "hijacked" not in headers
        assert "\n" not in message.subject and "\r" not in message.subject
        assert message.recipients() == ["alice@example.com"]
    assert (
        "mallory@attacker.example" in mail.outbox[-1].body
    )  # the reason is told, as text in the body


# --- path tricks in file names -------------------------------------------------------------------

TRICKS = [
    "../../etc/passwd",
    "/etc/passwd",
    "..\\..\\windows\\win.ini",
    "C:\\boot.ini",
    "a\x00b",
    "..",
    ".",
    "a/b",
    "a_b",
    "orders",
]


def test_category_names_from_a_system_never_become_paths_in_the_bundle(
    api, waiting_job, django_capture_on_commit_callbacks
):
    job = waiting_job("access")
    records = [
        {"category": name.replace("\x00", ""), "fields": {"n": i}} for i, name in enumerate(TRICKS)
    ]
    refused = api.post(
        f"/api/v1/systems/jobs/{job.pk}/result/",
        {"status": "completed", "records": [{"category": "a\x00b", "fields": {}}]},
        format="json",
        **SYSTEM,
    )
    assert_error(refused, 400, "invalid")  # NUL refused at the door
    with django_capture_on_commit_callbacks(execute=True):
        reported = api.post(
            f"/api/v1/systems/jobs/{job.pk}/result/",
            {"status": "completed", "records": records},
            format="json",
            **SYSTEM,
        )
    assert reported.status_code == 200, reported.content
    request = job.request
    request.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        item = access.release(request, actor=Actor.scheduler())
    archive = zipfile.ZipFile(io.BytesIO(b"".join(storage.read_decrypted(item.file))))
    data = [n for n in archive.namelist() if n.startswith("data/billing/")]  # beside our own records
    assert len(data) == 3 * len(
        {r["category"] for r in records}
    )  # one JSON, one CSV and one page to read each, no collisions
    for name in archive.namelist():
        parts = name.split("/")
        assert (
            not name.startswith("/") and "\\" not in name and "\x00" not in name and ":" not in name
        )
        assert ".." not in parts and "." not in parts and "" not in parts, name
        if name.startswith("data/"):
            assert len(parts) == 3 and parts[1] in ("billing", "privacy-requests"), name
    manifest = json.loads(archive.read("manifest.json"))
    [system] = [s for s in manifest["systems"] if s["name"] == "billing"]
    assert sorted(system["files"]) == sorted(data)
    assert system["records"] == {
        r["category"]: 1 for r in records
    }  # the manifest keeps the real names
    assert "data/billing/orders.json" in data  # an ordinary name is left as it is
    for record in records:  # each record sits in its own category's file
        [path] = [
            f
            for f in system["files"]
            if f.endswith(".json") and json.loads(archive.read(f)) == [record["fields"]]
        ]
        assert path.startswith("data/billing/")


def test_a_download_is_named_by_our_reference_and_tricks_in_the_path_find_nothing(
    api, client, waiting_job, django_capture_on_commit_callbacks
):
    job = waiting_job("access")
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            f"/api/v1/systems/jobs/{job.pk}/result/",
            {"status": "completed", "records": []},
            format="json",
            **SYSTEM,
        )
    request = job.request
    request.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        access.release(request, actor=Actor.scheduler())
    auth = {"HTTP_AUTHORIZATION": f"Bearer {status_token(request)}"}
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/requests/{request.reference}/download/code/", **auth)
    download = api.post(
        f"/api/v1/requests/{request.reference.lower()}/download/",
        {"code": code_from(mail.outbox[-1])},
        format="json",
        **auth,
    )
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="{request.reference}.zip"'
    for trick in [
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        "DSR-AAAA-AAAA%00",
        f"{request.reference}%00.zip",
        f"{request.reference}%2F..",
        "%C0%AE%C0%AE",
    ]:
        response = api.post(f"/api/v1/requests/{trick}/download/code/", **auth)
        assert response.status_code == 404 and response.json()["error"] == "not_found", trick
        assert client.get(f"/requests/{trick}/?t=x").status_code == 404, trick


# --- CSV injection -------------------------------------------------------------------------------

FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", '=HYPERLINK("http://x","y")']


def test_cells_that_a_spreadsheet_would_run_are_neutralised(
    api, waiting_job, django_capture_on_commit_callbacks
):
    job = waiting_job("access")
    fields = {f"col{i}": value for i, value in enumerate(FORMULAS)}
    fields.update(
        {"=cmd|'/c calc'!A1": "header", "safe": "plain -1 and a@b", "number": -5, "nested": ["=1"]}
    )
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            f"/api/v1/systems/jobs/{job.pk}/result/",
            {"status": "completed", "records": [{"category": "notes", "fields": fields}]},
            format="json",
            **SYSTEM,
        )
    request = job.request
    request.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        item = access.release(request, actor=Actor.scheduler())
    archive = zipfile.ZipFile(io.BytesIO(b"".join(storage.read_decrypted(item.file))))
    rows = list(
        csv.reader(io.StringIO(archive.read("data/billing/notes.csv").decode("utf-8-sig"), newline=""))
    )
    header, [row] = rows[0], rows[1:]
    cells = dict(zip(header, row, strict=True))
    for cell in header + [value for name, value in cells.items() if name != "number"]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), repr(cell)
    for i, value in enumerate(FORMULAS):
        assert cells[f"col{i}"] == "'" + value
    assert cells["'=cmd|'/c calc'!A1"] == "header"
    assert (cells["safe"], cells["number"], cells["nested"]) == (
        "plain -1 and a@b",
        "-5",  # a plain number is no formula: it stays a number
        '["=1"]',
    )
    assert json.loads(archive.read("data/billing/notes.json")) == [fields]  # the JSON stays exact


# Cells a spreadsheet still runs once it drops leading spaces and quotes, or reads
# full-width signs as their ASCII twins.
HIDDEN_FORMULAS = [" =1+1", "\u3000=1+1", '"=1+1', '" =1+1"', "'=1+1", "\uff1d1+1", "\uff0b1", "\uff0d1+1",
                   "\uff20SUM(A1)", ' \uff1dHYPERLINK("http://x")', "\n=1+1", "-1+1", "-2-cmd"]
PLAIN = ["-2", "+3", "-2.5", "-1e3", " -7 ", "0", "a=b", "x@example.com", "plain -1", "", "'"]


@pytest.mark.parametrize("value", HIDDEN_FORMULAS)
def test_a_formula_behind_spaces_quotes_or_full_width_signs_is_neutralised(value):
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", PLAIN)
def test_plain_numbers_and_text_stay_as_they_are(value):
    assert csv_cell(value) == value


def test_numbers_stay_numbers():
    assert (csv_cell(-2), csv_cell(-2.5), csv_cell(None)) == ("-2", "-2.5", "")


# --- NUL characters ------------------------------------------------------------------------------


def test_nul_in_form_fields_is_a_form_error(client):
    for field in ["name", "details", "email", "country"]:
        response = client.post("/", {**FORM, field: f"{FORM.get(field, 'x')}\x00"})
        assert response.status_code == 400, field
        assert (
            "Null characters are not allowed" in response.content.decode() or field == "country"
        ), field
    assert not DataSubjectRequest.objects.exists()


def test_nul_in_json_fields_is_a_400(api, waiting_job, officer):
    response = api.post("/api/v1/requests/", {**FORM, "name": "a\x00b"}, format="json")
    assert_error(response, 400, "invalid")
    assert "name" in response.json()["fields"]
    request = RequestFactory(status=Status.VERIFIED)
    for action, body in [
        ("note", {"text": "a\x00b"}),
        ("deny", {"reason": "a\x00b"}),
        ("assign", {"assignee": "1\x00"}),
        ("regime", {"regime": "gdpr\x00"}),
    ]:
        response = api.post(
            f"/api/v1/desk/requests/{request.pk}/{action}/", body, format="json", **OFFICER
        )
        assert_error(response, 400, "invalid")
    request.refresh_from_db()
    assert request.status == Status.VERIFIED and not Note.objects.exists()
    job = waiting_job("erasure")
    response = api.post(
        f"/api/v1/systems/jobs/{job.pk}/result/",
        {"status": "completed", "by_category": {"a\x00": 1}},
        format="json",
        **SYSTEM,
    )
    assert_error(response, 400, "invalid")


def test_nul_in_query_params_and_paths_finds_nothing(api, client, officer):
    request = RequestFactory(status=Status.VERIFIED)
    queue = api.get("/api/v1/desk/requests/?q=%00", **OFFICER)
    assert queue.status_code == 200 and queue.json()["count"] == 1  # NUL dropped from a search
    for params in [
        "status=%00",
        "assignee=1%00",
        "kind=access%00",
        "due_within=%00",
        "sort=due%00",
    ]:
        assert_error(api.get(f"/api/v1/desk/requests/?{params}", **OFFICER), 400, "invalid")
    token = status_token(request)
    url = f"/api/v1/requests/{request.reference}/"
    assert_error(api.get(url, HTTP_AUTHORIZATION="Bearer \x00"), 404, "not_found")
    assert_error(api.get(url, HTTP_AUTHORIZATION=f"Bearer {token}\x00"), 404, "not_found")
    assert_error(
        api.get(f"/api/v1/requests/{request.reference}%00/", HTTP_AUTHORIZATION=f"Bearer {token}"), 404, "not_found"
    )
    assert client.get(f"/requests/{request.reference}/?t=%00").status_code == 404
    assert client.get(f"/requests/{request.reference}/open/%00/").status_code == 404
    assert client.get(f"/requests/{request.reference}%00/verify/").status_code == 404
    assert api.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200  # the control


def test_nul_in_a_systems_file_is_a_clear_error(tmp_path):
    path = tmp_path / "systems.yaml"
    path.write_text('systems:\n  - name: crm\n    connector: manual\n    description: "a\\0b"\n')
    with pytest.raises(CommandError, match="NUL"):
        call_command("load_systems", str(path))
    assert not SystemConnection.objects.exists()


# --- numbers that are not numbers ----------------------------------------------------------------


@pytest.mark.parametrize("number", ["²", "١٢", "99999999999999999999", "-1", "1e3", " 7 7"])
def test_a_number_an_officer_sends_is_ascii_digits_that_fit(api, number, officer):
    request = RequestFactory(
        status=Status.VERIFIED, kind="rectification", changes=[{"field": "name", "value": "Al"}]
    )
    for path, body in [
        (f"/api/v1/desk/requests/{request.pk}/assign/", {"assignee": number}),
        (
            f"/api/v1/desk/requests/{request.pk}/decide/",
            {"decisions": [{"index": number, "accept": True}]},
        ),
        ("/api/v1/desk/bulk/assign/", {"ids": [str(request.pk)], "assignee": number}),
    ]:
        assert_error(api.post(path, body, format="json", **OFFICER), 400, "invalid")
    assert_error(api.get("/api/v1/desk/requests/", {"assignee": number}, **OFFICER), 400, "invalid")
    request.refresh_from_db()
    assert request.assignee is None and "decision" not in request.changes[0]


@pytest.mark.parametrize("timestamp", ["²", "١٧٠٠٠٠٠٠٠٠", "1e9", "-1"])
def test_a_signature_timestamp_is_ascii_digits(client, timestamp):
    with pytest.raises(SignatureError, match="timestamp is not a number"):
        verify("secret", f"t={timestamp},v1=00", b"{}")
    response = client.post(
        "/demo/marketing-webhook/",
        b"{}",
        content_type="application/json",
        HTTP_X_DSR_SIGNATURE=f"t={timestamp},v1=00",
    )
    assert response.status_code == 401 and response.json()["status"] == "failed"


@pytest.mark.parametrize(
    "body",
    [
        {"status": "completed", "affected": 2**31},
        {"status": "completed", "found": 10**20},
        {"status": "completed", "by_category": {"rows": 2**63}},
        {"status": "completed", "by_category": {"x" * 101: 1}},
    ],
)
def test_counts_a_system_reports_must_fit(api, waiting_job, body):
    job = waiting_job("erasure")
    assert_error(
        api.post(f"/api/v1/systems/jobs/{job.pk}/result/", body, format="json", **SYSTEM),
        400,
        "invalid",
    )
    job.refresh_from_db()
    assert job.status == "waiting"
