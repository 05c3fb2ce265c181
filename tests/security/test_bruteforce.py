"""An attacker guessing: verification and download codes, status links, desk logins.

Codes are six digits, so they must be protected by numbers: a few tries per code, a few
codes per hour, and rate limits per client IP and per email address that rotating IPs or
spoofed headers do not escape. Links and tokens are signed and expire; secrets are
compared in constant time; the desk and admin logins lock after repeated failures.
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
from django_otp.plugins.otp_totp.models import TOTPDevice

from dsr.core import tokens
from dsr.core.audit import Actor
from dsr.core.models import DataSubjectRequest, Status, Verification
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
    if surface == "api":
        return response.status_code, response.json()["error"]
    return response.status_code, page_error(response.content.decode())


def page_error(html: str) -> str:
    """The page's error message, as the API's error code."""
    shown = " ".join(re.findall(r'role="alert"[^>]*>([^<]*)<', html))
    for phrase, code in [("Too many wrong tries", "code_locked"), ("now been locked", "code_locked"),
                         ("Too many attempts", "rate_limited"), ("tries left", "wrong_code"), ("try left", "wrong_code"),
                         ("has expired", "code_expired"), ("already been used", "code_used")]:
        if phrase in shown:
            return code
    return f"unrecognised: {shown!r}"


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
    assert answers == [(400, "wrong_code")] * (limit - 1) + [(429, "code_locked")] * 3
    assert attempt(client, surface, purpose, request, issued.code) == (429, "code_locked")
    assert Verification.objects.get(pk=issued.verification.pk).attempts == limit  # never past the limit
    assert not succeeded(request, purpose)
    # Only a new code (a new email) opens it again; the old one stays dead.
    fresh = issue(request, purpose)
    assert attempt(client, surface, purpose, request, issued.code)[1] == "wrong_code"
    assert attempt(client, surface, purpose, request, fresh.code)[1] == "ok"
    assert succeeded(request, purpose)


@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_code_of_one_purpose_never_serves_the_other(client, purpose):
    """The download code cannot verify a request, nor the verification code download a bundle."""
    request, _ = awaiting() if purpose == "verify" else released()
    other = issue(request, "download" if purpose == "verify" else "verify")
    assert attempt(client, "api", purpose, request, other.code) == (400, "wrong_code")
    assert not succeeded(request, purpose)


@pytest.mark.django_db(transaction=True)
@override_settings(DSR_RATE_VERIFY_PER_IP="1000/h", DSR_RATE_VERIFY_PER_EMAIL="1000/h")
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
    assert answers.count("wrong_code") <= settings.DSR_CODE_MAX_ATTEMPTS and answers.count("ok") <= 1
    assert set(answers) <= {"ok", "wrong_code", "code_locked", "code_used"}
    verified = DataSubjectRequest.objects.get(pk=request.pk).status == Status.VERIFIED
    assert verified == ("ok" in answers)


def test_an_attacker_guessing_for_an_hour_gets_a_handful_of_tries(api, django_capture_on_commit_callbacks):
    """With the default limits: keep guessing, ask for new codes when locked, for an hour.

    Whatever the order, the codes actually compared stay within the per-email limit
    (15 an hour), so the chance of hitting a six-digit code is about 15 in a million.
    """
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post("/api/v1/requests/", {"kind": "erasure", "email": EMAIL, "country": "DE"}, format="json")
    reference = created.json()["reference"]
    answers = []
    for n in range(1, 80):
        real = last_code(EMAIL)  # the attacker never sends it: we only make sure of that
        response = api.post(f"/api/v1/requests/{reference}/verify/", {"code": wrong(real, n)}, format="json")
        answers.append(response.json()["error"])
        if answers[-1] == "code_locked":
            with django_capture_on_commit_callbacks(execute=True):
                api.post(f"/api/v1/requests/{reference}/resend/")
    compared = sum(Verification.objects.filter(request__reference=reference).values_list("attempts", flat=True))
    assert 0 < compared <= int(settings.DSR_RATE_VERIFY_PER_EMAIL.split("/")[0])
    assert answers[-30:] == ["rate_limited"] * 30
    assert len([m for m in mail.outbox if EMAIL in m.to]) <= 1 + int(settings.DSR_RATE_RESEND_PER_REQUEST.split("/")[0])
    # Even the right code is refused until the hour is over.
    right = api.post(f"/api/v1/requests/{reference}/verify/", {"code": last_code(EMAIL)}, format="json")
    assert right.status_code == 429
    assert DataSubjectRequest.objects.get(reference=reference).status == Status.AWAITING_VERIFICATION


# --- rate limits: per IP and per email, whatever the attacker varies ---------------------------


@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("surface", SURFACES)
def test_rotating_ips_does_not_escape_the_per_email_limit(client, surface, purpose, settings):
    settings.DSR_RATE_VERIFY_PER_EMAIL, settings.DSR_CODE_MAX_ATTEMPTS = "4/h", 50
    make = awaiting if purpose == "verify" else released
    first, issued = make()
    second, _ = make()  # another request of the same person counts against the same address
    answers = [attempt(client, surface, purpose, first if i % 2 else second, wrong(issued.code, i),
                       REMOTE_ADDR=f"198.51.100.{i}")[1] for i in range(6)]
    assert answers == ["wrong_code"] * 4 + ["rate_limited"] * 2
    assert attempt(client, surface, purpose, first, issued.code, REMOTE_ADDR="203.0.113.9")[1] == "rate_limited"
    assert not succeeded(first, purpose)
    # Someone else's address is not affected.
    other, other_issued = make(email="bystander@example.com")
    assert attempt(client, surface, purpose, other, wrong(other_issued.code), REMOTE_ADDR="203.0.113.9")[1] \
        == "wrong_code"


@pytest.mark.parametrize("surface", SURFACES)
def test_spoofed_forwarding_headers_do_not_escape_the_per_ip_limit(client, surface, settings):
    settings.DSR_RATE_VERIFY_PER_IP, settings.DSR_RATE_VERIFY_PER_EMAIL = "3/h", "1000/h"
    targets = [awaiting(email=f"p{i}@example.com") for i in range(5)]
    answers = [
        attempt(client, surface, "verify", request, wrong(issued.code), REMOTE_ADDR="192.0.2.7",
                HTTP_X_FORWARDED_FOR=f"10.0.0.{i}", HTTP_X_REAL_IP=f"10.0.1.{i}", HTTP_FORWARDED=f"for=10.0.2.{i}")[1]
        for i, (request, issued) in enumerate(targets)
    ]
    assert answers == ["wrong_code"] * 3 + ["rate_limited"] * 2
    request, issued = targets[-1]
    assert attempt(client, surface, "verify", request, wrong(issued.code), REMOTE_ADDR="192.0.2.8")[1] == "wrong_code"


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


# --- links and tokens: signed, bound to their purpose, and they expire --------------------------


def _page_status(client, request, token):
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
        assert (late.status_code, late.json()["error"]) == (400, "code_expired")
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


@pytest.mark.parametrize("where", ["desk", "admin"])
@pytest.mark.parametrize("failure", ["password", "totp"])
def test_a_username_locks_after_its_failures_from_any_ip(client, where, failure, settings, no_device_throttle):
    settings.DSR_RATE_LOGIN_PER_USER, settings.DSR_RATE_LOGIN_PER_IP = "4/h", "1000/h"
    _, device = desk_user(role=Role.ADMINISTRATOR)
    for i in range(4):
        password, otp = ("wrong-password", now_code(device)) if failure == "password" else \
            ("right-password-123", other_code(device))
        response = log_in(client, where, "pat", password, otp, ip=f"198.51.100.{i}")
        assert response.status_code == 200 and not logged_in(client)
        assert "Too many failed logins" not in response.content.decode()
    # The right password and code, from yet another address: refused, and no password was checked.
    refused = log_in(client, where, "pat", "right-password-123", now_code(device), ip="203.0.113.5")
    assert refused.status_code == (429 if where == "desk" else 200)
    assert "Too many failed logins" in refused.content.decode()
    assert not logged_in(client)
    # Another user is not locked out by it.
    desk_user("sam", Role.ADMINISTRATOR)
    sam = TOTPDevice.objects.get(user__username="sam")
    assert log_in(client, where, "sam", "right-password-123", now_code(sam), ip="203.0.113.5").status_code == 302
    assert logged_in(client)


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


def test_login_limits_expire_with_their_window(client, settings, no_device_throttle):
    settings.DSR_RATE_LOGIN_PER_USER = "2/h"
    _, device = desk_user()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(2):
            log_in(client, "desk", "pat", "wrong-password", now_code(device))
        assert log_in(client, "desk", "pat", "right-password-123", now_code(device)).status_code == 429
        clock.shift(timedelta(hours=1, minutes=1))
        assert log_in(client, "desk", "pat", "right-password-123", now_code(device)).status_code == 302
