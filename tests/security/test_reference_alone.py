"""A reference alone reveals nothing (issue 17).

Anyone may know or guess a reference. Whether its request is waiting for a code, was
verified already, or holds a used, locked or expired code, the verify and resend answers
(API and pages) are the same to whoever holds only the reference.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from dsr.core.models import Status, Verification
from tests.conftest import last_code

pytestmark = pytest.mark.django_db


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


@pytest.fixture
def four_states(api, file_request, verified_request):
    """References of requests in every state a stranger might probe: {state: reference}."""
    waiting = file_request(email="waiting@example.com")["reference"]
    verified, _ = verified_request(email="verified@example.com")
    expired = file_request(email="expired@example.com")["reference"]
    Verification.objects.filter(request__reference=expired).update(expires_at=timezone.now() - timedelta(seconds=1))
    locked = file_request(email="locked@example.com")["reference"]
    Verification.objects.filter(request__reference=locked).update(attempts=99)
    return {
        "waiting": (waiting, _wrong(last_code("waiting@example.com"))),
        "verified (its own used code)": (verified["reference"], last_code("verified@example.com")),
        "expired": (expired, last_code("expired@example.com")),
        "locked": (locked, last_code("locked@example.com")),
    }


def test_the_verify_api_answers_every_refusal_alike(api, four_states):
    answers = {}
    for state, (reference, code) in four_states.items():
        response = api.post(f"/api/v1/requests/{reference}/verify/", {"code": code}, format="json")
        answers[state] = (response.status_code, response.json())
    assert len(set(map(repr, answers.values()))) == 1, answers
    status, body = next(iter(answers.values()))
    assert status == 400 and body["error"] == "code_not_accepted"


def test_a_made_up_link_answers_alike_whether_or_not_the_request_is_verified(api, four_states):
    answers = {
        state: (r.status_code, r.json())
        for state, (reference, _) in four_states.items()
        for r in [api.post(f"/api/v1/requests/{reference}/verify/", {"link_token": "made-up"}, format="json")]
    }
    assert len(set(map(repr, answers.values()))) == 1, answers


def test_a_used_link_answers_like_a_forged_one_in_the_api(api, file_request):
    reference = file_request(email="link@example.com")["reference"]
    token = re.search(r"/verify/([^/\s]+)/", mail.outbox[-1].body).group(1)
    assert api.post(f"/api/v1/requests/{reference}/verify/", {"link_token": token}, format="json").status_code == 200
    used = api.post(f"/api/v1/requests/{reference}/verify/", {"link_token": token}, format="json")
    forged = api.post(f"/api/v1/requests/{reference}/verify/", {"link_token": token + "x"}, format="json")
    assert (used.status_code, used.json()) == (forged.status_code, forged.json())


def test_resend_answers_alike_whether_or_not_the_request_is_verified(api, four_states):
    answers = {
        state: (r.status_code, r.json())
        for state, (reference, _) in four_states.items()
        for r in [api.post(f"/api/v1/requests/{reference}/resend/")]
    }
    assert len(set(map(repr, answers.values()))) == 1, answers
    assert next(iter(answers.values()))[0] == 202


def _page(client, method: str, url: str, **data) -> tuple[int, str]:
    """Status and page, less what differs on every answer (the CSRF token, the CSP nonce)."""
    response = getattr(client, method)(url, data, follow=True)
    html = re.sub(r'(value|nonce)="[^"]*"', r'\1=""', response.content.decode())
    return response.status_code, html


def test_the_verify_pages_look_alike_whatever_the_state(client, four_states):
    pages = {}
    for state, (reference, code) in four_states.items():
        shown = [
            _page(client, "get", f"/requests/{reference}/verify/"),
            _page(client, "post", f"/requests/{reference}/verify/", code=code),
            _page(client, "get", f"/requests/{reference}/verify/not-a-real-token/"),
            _page(client, "post", f"/requests/{reference}/verify/not-a-real-token/"),
            _page(client, "post", f"/requests/{reference}/resend/"),
        ]
        pages[state] = [(status, html.replace(reference, "REF")) for status, html in shown]
    first = next(iter(pages.values()))
    for state, shown in pages.items():
        assert shown == first, state
    assert [status for status, _ in first] == [200, 400, 200, 400, 200]


def test_the_person_still_verifies_with_the_right_code(api, file_request):
    reference = file_request(email="real@example.com")["reference"]
    response = api.post(
        f"/api/v1/requests/{reference}/verify/", {"code": last_code("real@example.com")}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == Status.VERIFIED
