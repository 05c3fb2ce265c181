"""An attacker guessing: verification and download codes, status links, desk logins.

Codes are six digits, so they must be protected by numbers: a few tries per code, a few
codes per hour per request, and rate limits per client IP and per request and client that
spoofed headers do not escape; none of them lets a stranger lock the real person out.
Links and tokens are signed and expire; secrets are compared in constant time; the desk
and admin logins slow a guesser down without locking the owner out.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone
from django_otp.oath import totp

from dsr.core import tokens
from dsr.core.audit import Actor
from dsr.core.models import DataSubjectRequest, Status, TOTPDevice, Verification
from dsr.core.roles import Role, grant
from dsr.intake import verification
from dsr.results import access
from tests.conftest import last_code
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
EMAIL = "target@example.com"


# --- helpers ----------------------------------------------------------------------------


def awaiting(email: str = EMAIL, **extra) -> tuple[DataSubjectRequest, verification.IssuedCode]:
    request = RequestFactory(kind="access", identifiers={"email": email}, **extra)
    return request, verification.issue_code(request)


def released(email: str = EMAIL) -> tuple[DataSubjectRequest, verification.IssuedCode]:
    """A completed access request with a bundle, and a download code sent for it."""
    request = RequestFactory(kind="access", status=Status.REVIEW, identifiers={"email": email})
    access.release(request, actor=Actor.scheduler())
    request.refresh_from_db()
    return request, verification.issue_code(request, purpose="download")


def wrong(real: str, n: int = 1) -> str:
    """The n-th six-digit code after ``real``: never ``real`` itself."""
    return f"{(int(real) + n) % 10**6:06d}"


def attempt(client: Client, surface: str, purpose: str, request: DataSubjectRequest, code: str, **meta):
    """One guess through the API or the page; returns (HTTP status, error code or page text)."""
    ref = request.reference
    if purpose == "verify":
        if surface == "api":
            response = client.post(f"/api/v1/requests/{ref}/verify/", json.dumps({"code": code}),
                                   content_type="application/json", **meta)
        else:
            response = client.post(f"/requests/{ref}/verify/", {"code": code}, **meta)
    else:
        token = tokens.status_token(request)
        if surface == "api":
            response = client.post(f"/api/v1/requests/{ref}/download/", json.dumps({"code": code}),
                                   content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}", **meta)
        else:
            response = client.post(f"/requests/{ref}/download/", {"code": code, "t": token}, **meta)
    if response.status_code in (200, 302):  # the API and the download page answer 200, the verify page 302
        return response.status_code, "ok"
    if response.status_code == 429:
        assert int(response["Retry-After"]) > 0
    if surface == "api":
        return response.status_code, response.json()["error"]
    return response.status_code, page_error(response.content.decode())


def page_error(html: str) -> str:
    """The page's error message, as the API's error code."""
    shown = " ".join(re.findall(r'role="alert"[^>]*>([^<]*)<', html))
    for phrase, code in [("did not work", "code_not_accepted"),
                         ("Too many wrong tries", "code_locked"), ("now been locked", "code_locked"),
                         ("Too many attempts", "rate_limited"), ("tries left", "wrong_code"), ("try left", "wrong_code"),
                         ("has expired", "code_expired"), ("already been used", "code_used")]:
        if phrase in shown:
            return code
    return f"unrecognised: {shown!r}"


def public(purpose: str, answer: tuple[int, str]) -> tuple[int, str]:
    """The answer as whoever holds only the reference sees it: to verify, every refusal reads
    alike (a reference alone reveals nothing); a download (behind the status token) says why."""
    if purpose == "verify" and answer[1] not in ("ok", "rate_limited"):
        return 400, "code_not_accepted"
    return answer


def succeeded(request: DataSubjectRequest, purpose: str) -> bool:
    request.refresh_from_db()
    if purpose == "verify":
        return request.status == Status.VERIFIED
    return request.bundles.get().downloads > 0


def issue(request: DataSubjectRequest, purpose: str) -> verification.IssuedCode:
    return verification.issue_code(request, purpose=purpose)


SURFACES = ["api", "page"]
PURPOSES = ["verify", "download"]


# --- a code allows DSR_CODE_MAX_ATTEMPTS tries, then locks -------------------------------------


@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("limit", [5, 3])
def test_a_code_locks_after_its_tries_even_against_the_right_code(client, surface, purpose, limit, settings):
    settings.DSR_CODE_MAX_ATTEMPTS = limit
    request, issued = awaiting() if purpose == "verify" else released()
    answers = [attempt(client, surface, purpose, request, wrong(issued.code, i)) for i in range(1, limit + 3)]
    expected = [(400, "wrong_code")] * (limit - 1) + [(400, "code_locked")] * 3
    assert answers == [public(purpose, a) for a in expected]
    assert attempt(client, surface, purpose, request, issued.code) == public(purpose, (400, "code_locked"))
    assert Verification.objects.get(pk=issued.verification.pk).attempts == limit  # never past the limit
    assert not succeeded(request, purpose)
    # Only a new code (a new email) opens it again; the old one stays dead.
    fresh = issue(request, purpose)
    assert attempt(client, surface, purpose, request, issued.code) == public(purpose, (400, "wrong_code"))
    assert attempt(client, surface, purpose, request, fresh.code)[1] == "ok"
    assert succeeded(request, purpose)


@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_code_of_one_purpose_never_serves_the_other(client, purpose):
    """The download code cannot verify a request, nor the verification code download a bundle."""
    request, _ = awaiting() if purpose == "verify" else released()
    other = issue(request, "download" if purpose == "verify" else "verify")
    assert attempt(client, "api", purpose, request, other.code) == public(purpose, (400, "wrong_code"))
    assert not succeeded(request, purpose)


@pytest.mark.django_db(transaction=True)
@override_settings(DSR_RATE_VERIFY_PER_IP="1000/h", DSR_RATE_VERIFY_PER_REQUEST="1000/h")
def test_parallel_guesses_cannot_race_past_the_limit():
    """A dozen guesses at once, each on its own connection, still get only the allowed tries."""
    request, issued = awaiting()
    guesses = [wrong(issued.code, i) for i in range(1, 12)] + [issued.code]
    answers: list[str] = []
    barrier = threading.Barrier(len(guesses))

    def guess(code: str) -> None:
        client = Client()
        barrier.wait()
        try:
            response = client.post(f"/api/v1/requests/{request.reference}/verify/",
                                   json.dumps({"code": code}), content_type="application/json")
            answers.append("ok" if response.status_code == 200 else response.json()["error"])
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(code,)) for code in guesses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == len(guesses)
    tried = Verification.objects.get(pk=issued.verification.pk).attempts
    assert tried == settings.DSR_CODE_MAX_ATTEMPTS
    # Only the counted tries were compared; the right code got through only if it was one of them.
    assert answers.count("ok") <= 1
    assert set(answers) <= {"ok", "code_not_accepted"}
    verified = DataSubjectRequest.objects.get(pk=request.pk).status == Status.VERIFIED
    assert verified == ("ok" in answers)


def test_an_attacker_guessing_for_an_hour_gets_a_handful_of_tries(api, django_capture_on_commit_callbacks):
    """With the default limits: keep guessing, ask for a new code every few tries, for an hour.

    Whatever the order, the codes actually compared from one client stay within the limit per
    request and client (10 an hour), so the chance of hitting a six-digit code is about 10 in a
    million; from many clients, within a code's tries times the codes a request may be sent.
    """
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post("/api/v1/requests/", {"kind": "erasure", "email": EMAIL, "country": "DE"}, format="json")
    reference = created.json()["reference"]
    answers = []
    for n in range(1, 80):
        real = last_code(EMAIL)  # the attacker never sends it: we only make sure of that
        response = api.post(f"/api/v1/requests/{reference}/verify/", {"code": wrong(real, n)}, format="json")
        answers.append(response.json()["error"])
        if n % settings.DSR_CODE_MAX_ATTEMPTS == 0:
            with django_capture_on_commit_callbacks(execute=True):
                api.post(f"/api/v1/requests/{reference}/resend/")
    compared = sum(Verification.objects.filter(request__reference=reference).values_list("attempts", flat=True))
    assert 0 < compared <= int(settings.DSR_RATE_VERIFY_PER_REQUEST.split("/")[0])
    assert answers[-30:] == ["rate_limited"] * 30
    assert len([m for m in mail.outbox if EMAIL in m.to]) <= 1 + int(settings.DSR_RATE_RESEND_PER_REQUEST.split("/")[0])
    # Even the right code is refused from that client until the hour is over.
    right = api.post(f"/api/v1/requests/{reference}/verify/", {"code": last_code(EMAIL)}, format="json")
    assert right.status_code == 429 and int(right["Retry-After"]) > 0
    assert DataSubjectRequest.objects.get(reference=reference).status == Status.AWAITING_VERIFICATION


# --- rate limits: per IP and per request and client, whatever the attacker varies --------------


@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("surface", SURFACES)
def test_rotating_ips_does_not_escape_a_codes_tries(client, surface, purpose, settings):
    settings.DSR_CODE_MAX_ATTEMPTS = 4
    request, issued = (awaiting if purpose == "verify" else released)()
    answers = [attempt(client, surface, purpose, request, wrong(issued.code, i), REMOTE_ADDR=f"198.51.100.{i}")
               for i in range(1, 7)]
    assert answers == [public(purpose, a) for a in [(400, "wrong_code")] * 3 + [(400, "code_locked")] * 3]
    assert attempt(client, surface, purpose, request, issued.code, REMOTE_ADDR="203.0.113.9") == \
        public(purpose, (400, "code_locked"))
    assert Verification.objects.get(pk=issued.verification.pk).attempts == 4
    assert not succeeded(request, purpose)


@pytest.mark.parametrize("surface", SURFACES)
def test_a_stranger_cannot_lock_the_person_out_of_their_own_request(client, surface, settings):
    """The attack: file for the victim's address, send many wrong codes to one's own request.
    Nothing counts per address any more, so the victim's right code still works."""
    settings.DSR_CODE_MAX_ATTEMPTS = 100
    victims, issued = awaiting()
    attackers, _ = awaiting()  # same address, the attacker's own request
    answers = [attempt(client, surface, "verify", attackers, wrong(issued.code, i), REMOTE_ADDR="198.51.100.66")[1]
               for i in range(1, 40)]
    assert "rate_limited" in answers  # the attacker is slowed down...
    assert attempt(client, surface, "verify", victims, issued.code, REMOTE_ADDR="203.0.113.20")[1] == "ok"
    assert succeeded(victims, "verify")  # ...the person is not


def test_per_request_limits_are_per_client_too(client, settings):
    settings.DSR_RATE_VERIFY_PER_REQUEST, settings.DSR_CODE_MAX_ATTEMPTS = "3/h", 100
    request, issued = awaiting()
    answers = [attempt(client, "api", "verify", request, wrong(issued.code, i), REMOTE_ADDR="198.51.100.1")[1]
               for i in range(1, 5)]
    assert answers == ["code_not_accepted"] * 3 + ["rate_limited"]
    assert attempt(client, "api", "verify", request, issued.code, REMOTE_ADDR="198.51.100.2")[1] == "ok"


def _file(client, ip: str, email: str = EMAIL):
    return client.post("/api/v1/requests/", json.dumps({"kind": "access", "email": email, "country": "DE"}),
                       content_type="application/json", REMOTE_ADDR=ip)


def test_a_stranger_filing_for_someones_address_does_not_stop_them_filing(client):
    limit = int(settings.DSR_RATE_SUBMIT_PER_EMAIL.split("/")[0])
    attacker = [_file(client, "198.51.100.66").status_code for _ in range(limit + 1)]
    assert attacker == [201] * limit + [429]
    assert _file(client, "203.0.113.20").status_code == 201  # the person, from their own address


def test_codes_emailed_to_one_address_are_bounded_across_clients(client, settings):
    """What a stranger could do to the person, flood their mailbox with codes, has its own cap:
    unconfirmed requests for the address in the last hour, from any client."""
    settings.DSR_UNCONFIRMED_PER_EMAIL = 3
    answers = [_file(client, f"198.51.100.{i}") for i in range(4)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert 0 < int(answers[-1]["Retry-After"]) <= 3600
    assert answers[-1].json()["error"] == "rate_limited"
    assert _file(client, "198.51.100.9", email="someone-else@example.com").status_code == 201
    # Confirming one of them takes it out of the count.
    first = DataSubjectRequest.objects.get(reference=answers[0].json()["reference"])
    verification.verify_code(first, verification.issue_code(first).code)
    assert _file(client, "198.51.100.10").status_code == 201


@pytest.mark.parametrize("surface", SURFACES)
def test_spoofed_forwarding_headers_do_not_escape_the_per_ip_limit(client, surface, settings):
    settings.DSR_RATE_VERIFY_PER_IP, settings.DSR_RATE_VERIFY_PER_REQUEST = "3/h", "1000/h"
    targets = [awaiting(email=f"p{i}@example.com") for i in range(5)]
    answers = [
        attempt(client, surface, "verify", request, wrong(issued.code), REMOTE_ADDR="192.0.2.7",
                HTTP_X_FORWARDED_FOR=f"10.0.0.{i}", HTTP_X_REAL_IP=f"10.0.1.{i}", HTTP_FORWARDED=f"for=10.0.2.{i}")[1]
        for i, (request, issued) in enumerate(targets)
    ]
    assert answers == ["code_not_accepted"] * 3 + ["rate_limited"] * 2
    request, issued = targets[-1]
    assert attempt(client, surface, "verify", request, wrong(issued.code), REMOTE_ADDR="192.0.2.8")[1] == \
        "code_not_accepted"


@pytest.mark.parametrize("surface", SURFACES)
def test_download_codes_are_sent_a_few_times_an_hour(client, surface, django_capture_on_commit_callbacks):
    request, _ = released()
    token = tokens.status_token(request)
    limit = int(settings.DSR_RATE_RESEND_PER_REQUEST.split("/")[0])
    mail.outbox.clear()
    for _ in range(limit + 2):
        with django_capture_on_commit_callbacks(execute=True):
            if surface == "api":
                client.post(f"/api/v1/requests/{request.reference}/download/code/", HTTP_AUTHORIZATION=f"Bearer {token}")
            else:
                client.post(f"/requests/{request.reference}/download/code/", {"t": token})
    assert len(mail.outbox) == limit
    assert Verification.objects.filter(request=request, purpose="download").count() == 1 + limit


def test_resend_limit_is_per_request_and_cannot_be_reset_by_other_ips(client, django_capture_on_commit_callbacks):
    request, _ = awaiting()
    limit = int(settings.DSR_RATE_RESEND_PER_REQUEST.split("/")[0])
    codes = []
    for i in range(limit + 2):
        with django_capture_on_commit_callbacks(execute=True):
            codes.append(client.post(f"/api/v1/requests/{request.reference}/resend/",
                                     REMOTE_ADDR=f"198.51.100.{i}").status_code)
    assert codes == [202] * limit + [429] * 2


# --- tokens of integrations, connected systems and service accounts are limited too ----------


def _token_callers():
    from dsr.core.models import ApiToken, IntegrationToken, SystemConnection
    from dsr.desk.auth import token_hash as personal_token_hash
    from dsr.engine.connections import token_hash

    officer = get_user_model().objects.create_user("script", "script@corp.example")
    grant(officer, Role.OFFICER)
    ApiToken.objects.create(user=officer, key_hash=personal_token_hash("officer-token"))
    IntegrationToken.objects.create(name="website", token_hash=token_hash("integration-token"))
    system = SystemConnection.objects.create(name="billing", connector="pull", config={})
    SystemConnection.objects.filter(pk=system.pk).update(token_hash=token_hash("system-token"))
    body = json.dumps({"kind": "access", "email": "x@example.com", "country": "DE"})
    return {
        "integration": lambda c, ip: c.post("/api/v1/requests/", body, content_type="application/json",
                                            HTTP_AUTHORIZATION="Bearer integration-token", REMOTE_ADDR=ip),
        "system": lambda c, ip: c.get("/api/v1/systems/jobs/", HTTP_AUTHORIZATION="Bearer system-token",
                                      REMOTE_ADDR=ip),
        "service account": lambda c, ip: c.get("/api/v1/desk/requests/", HTTP_AUTHORIZATION="Token officer-token",
                                               REMOTE_ADDR=ip),
    }


@pytest.mark.parametrize("caller", ["integration", "system", "service account"])
def test_integration_system_and_service_tokens_are_rate_limited(client, caller, settings):
    settings.DSR_RATE_PER_TOKEN = "3/h"  # an hour: a test never straddles two windows
    call = _token_callers()[caller]
    answers = [call(client, f"198.51.100.{i}") for i in range(4)]  # from any address: the token counts
    assert [a.status_code for a in answers[:3]] == [201 if caller == "integration" else 200] * 3
    assert answers[3].status_code == 429 and answers[3].json()["error"] == "rate_limited"
    assert 0 < int(answers[3]["Retry-After"]) <= 3600


# --- links and tokens: signed, bound to their purpose, and they expire --------------------------


def _page_status(client, request, token):
    client.cookies.clear()  # the token alone, not the cookie an earlier visit left
    return client.get(f"/requests/{request.reference}/", {"t": token}).status_code


def _api_status(client, request, token):
    return client.get(f"/api/v1/requests/{request.reference}/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code


@pytest.mark.parametrize("read", [_page_status, _api_status], ids=["page", "api"])
def test_a_status_token_works_until_its_last_day_and_not_after(client, read):
    request = RequestFactory(kind="access", status=Status.VERIFIED)
    days = settings.DSR_STATUS_LINK_DAYS
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = tokens.status_token(request)
        clock.shift(timedelta(days=days) - timedelta(minutes=1))
        assert read(client, request, token) == 200
        clock.shift(timedelta(minutes=2))
        assert read(client, request, token) == 404


@pytest.mark.parametrize("read", [_page_status, _api_status], ids=["page", "api"])
def test_a_forged_or_borrowed_token_opens_nothing(client, read, settings):
    request, issued = awaiting()
    good = tokens.status_token(request)
    assert read(client, request, good) == 200
    value, stamp, mac = good.rsplit(":", 2)
    forged = [
        f"{value}:{stamp}:{mac[:-2]}{'AA' if not mac.endswith('AA') else 'BB'}",  # signature altered
        signing.dumps({"r": str(request.pk)}, salt="dsr.status", key="not-our-secret-key" * 3),  # other key
        issued.link_token,  # a verification link's token is not a status token (another salt)
        signing.dumps({"r": str(request.pk)}, salt="dsr.verification-link", compress=True),
        signing.dumps({"v": str(request.pk)}, salt="dsr.status", compress=True),  # right salt, wrong shape
        "",
    ]
    for token in forged:
        assert read(client, request, token) in (401, 404), token


@pytest.mark.parametrize("kind", ["code", "link"])
def test_a_code_and_its_link_work_for_their_ttl_and_not_after(api, kind, settings):
    settings.DSR_CODE_TTL_MINUTES = 30
    with time_machine.travel(timezone.now(), tick=False) as clock:
        request, issued = awaiting()
        body = {"code": issued.code} if kind == "code" else {"link_token": issued.link_token}
        clock.shift(timedelta(minutes=31))  # first too late, then back to a minute before the end
        late = api.post(f"/api/v1/requests/{request.reference}/verify/", body, format="json")
        assert (late.status_code, late.json()["error"]) == (400, "code_not_accepted")
        clock.shift(timedelta(minutes=-2))
        on_time = api.post(f"/api/v1/requests/{request.reference}/verify/", body, format="json")
        assert on_time.status_code == 200


def test_a_download_code_expires_after_its_ttl(api):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        request, issued = released()
        clock.shift(timedelta(minutes=settings.DSR_CODE_TTL_MINUTES, seconds=1))
        status, error = attempt(api, "api", "download", request, issued.code)
        assert (status, error) == (400, "code_expired")
    assert not succeeded(request, "download")


# --- constant-time comparisons ------------------------------------------------------------------

SECRET_WORDS = ("token", "code_hash", "signature", "secret", "mac", "digest", "password", "otp", "link")


def _names(node: ast.AST) -> list[str]:
    found = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.append(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.append(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            found.append(sub.value)
    return found


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS) and lowered not in {"status_code", "token_type"}


def secret_comparisons(source: str, filename: str = "<source>") -> list[str]:
    """Every ==/!= in ``source`` whose operands name a token, code hash, signature or secret."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
            operands = [node.left, *node.comparators]
            # against a literal (None, "", 202) it is a presence or status check, not a secret match
            if any(isinstance(o, ast.Constant) for o in operands):
                continue
            if any(_is_secret(n) for o in operands for n in _names(o)):
                found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_comparison_finder_finds_what_it_should():
    assert secret_comparisons("if token_hash(t) == stored:\n    pass")
    assert secret_comparisons("ok = expected != request.headers['signature']")
    assert secret_comparisons("same = a.code_hash == b")
    assert not secret_comparisons("if response.status_code == other.status_code:\n    pass")
    assert not secret_comparisons("if token == '':\n    pass")


def test_no_secret_is_compared_with_equals():
    """Anywhere in the product, a token, code hash, signature or secret is never compared with ==/!=."""
    offenders = []
    for path in sorted([*ROOT.joinpath("dsr").rglob("*.py"), *ROOT.joinpath("connectors").rglob("*.py")]):
        if "migrations" not in path.parts:
            offenders += secret_comparisons(path.read_text(), str(path.relative_to(ROOT)))
    assert not offenders, "compare secrets with hmac.compare_digest:\n" + "\n".join(offenders)


@pytest.mark.parametrize(("function", "comparer"), [
    ("dsr.intake.verification._spend_attempt", "constant_time_equal"),
    ("dsr.core.tokens.check_status_token", "constant_time_equal"),
    ("dsr.core.crypto.constant_time_equal", "compare_digest"),
    ("connectors.signing.verify", "compare_digest"),
    ("django.core.signing.Signer.unsign", "constant_time_compare"),
])
def test_codes_signatures_and_tokens_are_checked_in_constant_time(function, comparer):
    module_name, _, attr = function.rpartition(".")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except ModuleNotFoundError:
        module_name, _, owner = module_name.rpartition(".")
        target = getattr(getattr(importlib.import_module(module_name), owner), attr)
    calls = {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(target))))
        if isinstance(node, ast.Call)
    }
    assert comparer in calls, f"{function} does not call {comparer}"


def test_the_constant_time_helper_still_tells_right_from_wrong():
    from dsr.core.crypto import constant_time_equal

    assert constant_time_equal("a" * 64, "a" * 64)
    assert not constant_time_equal("a" * 64, "a" * 63 + "b")
    assert not constant_time_equal("a" * 64, "a" * 63)


# --- desk and admin logins: limited per username and per client IP ------------------------------


def desk_user(name: str = "pat", role: Role = Role.OFFICER):
    user = get_user_model().objects.create_user(name, f"{name}@corp.example", "right-password-123")
    grant(user, role)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user, device


def now_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def other_code(device: TOTPDevice) -> str:
    return wrong(now_code(device), 500_000)


LOGINS = {"desk": "/desk/login/", "admin": "/admin/login/"}


def log_in(client, where, username, password, otp, ip="192.0.2.1", **meta):
    data = {"username": username, "password": password, "otp_token": otp}
    if where == "admin":  # the admin's form asks which device the code comes from
        device = TOTPDevice.objects.filter(user__username=username).first()
        data["otp_device"] = device.persistent_id if device else ""
    return client.post(LOGINS[where], data, REMOTE_ADDR=ip, **meta)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def no_device_throttle(settings):
    """django-otp also slows a device down after failures; switched off to see our own limit.
    (And a fast password hash: what is tested is the counting, not PBKDF2's cost.)"""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    """The login's slow-downs, recorded instead of waited."""
    waits: list[float] = []
    monkeypatch.setattr("dsr.desk.login.time.sleep", waits.append)
    return waits


def _fail(client, where, device, failure, ip):
    password, otp = ("wrong-password", now_code(device)) if failure == "password" else \
        ("right-password-123", other_code(device))
    return log_in(client, where, "pat", password, otp, ip=ip)


@pytest.mark.parametrize("where", ["desk", "admin"])
@pytest.mark.parametrize("failure", ["password", "totp"])
def test_a_username_locks_after_its_failures_from_one_client(client, where, failure, settings, no_device_throttle,
                                                              slept):
    settings.DSR_RATE_LOGIN_PER_USER, settings.DSR_RATE_LOGIN_PER_IP = "4/h", "1000/h"
    _, device = desk_user(role=Role.ADMINISTRATOR)
    for _ in range(4):
        response = _fail(client, where, device, failure, "198.51.100.1")
        assert response.status_code == 200 and not logged_in(client)
        assert "Too many failed logins" not in response.content.decode()
    # The right password and code, from that client: refused, and no password was checked.
    refused = log_in(client, where, "pat", "right-password-123", now_code(device), ip="198.51.100.1")
    assert refused.status_code == (429 if where == "desk" else 200)
    assert "Too many failed logins" in refused.content.decode()
    assert not logged_in(client)
    # Another user is not locked out by it.
    desk_user("sam", Role.ADMINISTRATOR)
    sam = TOTPDevice.objects.get(user__username="sam")
    assert log_in(client, where, "sam", "right-password-123", now_code(sam), ip="198.51.100.1").status_code == 302
    assert logged_in(client)


@pytest.mark.parametrize("where", ["desk", "admin"])
@pytest.mark.parametrize("failure", ["password", "totp"])
def test_failures_from_other_clients_slow_the_owner_down_but_never_lock_them_out(
    client, where, failure, settings, no_device_throttle, slept
):
    """The attack: guess pat's password from many addresses. Pat, with the right password and
    code, still gets in; every attempt past the username's limit waits a little first."""
    settings.DSR_RATE_LOGIN_PER_USER, settings.DSR_RATE_LOGIN_PER_IP = "4/h", "1000/h"
    _, device = desk_user(role=Role.ADMINISTRATOR)
    for i in range(12):
        response = _fail(client, where, device, failure, f"198.51.100.{i}")
        assert "Too many failed logins" not in response.content.decode() and not logged_in(client)
    assert slept == [settings.DSR_LOGIN_SLOWDOWN_SECONDS] * 8  # slowed once past the limit of 4
    owner = log_in(client, where, "pat", "right-password-123", now_code(device), ip="203.0.113.5")
    assert owner.status_code == 302 and logged_in(client)
    assert len(slept) == 9 and slept[-1] > 0


@pytest.mark.parametrize("where", ["desk", "admin"])
def test_one_ip_guessing_across_usernames_is_stopped(client, where, settings, no_device_throttle):
    settings.DSR_RATE_LOGIN_PER_USER, settings.DSR_RATE_LOGIN_PER_IP = "1000/h", "5/h"
    _, device = desk_user(role=Role.ADMINISTRATOR)
    for i in range(5):
        response = log_in(client, where, f"guess{i}", "password1", "123456", ip="192.0.2.66")
        assert "Too many failed logins" not in response.content.decode()
    spoofed = log_in(client, where, "pat", "right-password-123", now_code(device), ip="192.0.2.66",
                     HTTP_X_FORWARDED_FOR="10.1.2.3")
    assert "Too many failed logins" in spoofed.content.decode() and not logged_in(client)
    assert log_in(client, where, "pat", "right-password-123", now_code(device), ip="192.0.2.67").status_code == 302


def test_login_limits_expire_with_their_window(client, settings, no_device_throttle, slept):
    settings.DSR_RATE_LOGIN_PER_USER = "2/h"
    _, device = desk_user()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(2):
            log_in(client, "desk", "pat", "wrong-password", now_code(device))
        assert log_in(client, "desk", "pat", "right-password-123", now_code(device)).status_code == 429
        clock.shift(timedelta(hours=1, minutes=1))
        assert log_in(client, "desk", "pat", "right-password-123", now_code(device)).status_code == 302
