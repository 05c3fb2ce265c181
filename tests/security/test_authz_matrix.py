"""Who may do what: every URL of the product × every kind of caller, one cell at a time.

The URLs come from the URLconf itself (public pages, public API, systems API, desk
pages, officer API, the admin, the demo receiver), so a URL added without a row in
``MATRIX`` fails ``test_every_url_has_a_row_in_the_matrix``. How each URL is called is in
``matrix_endpoints.py`` (``ENDPOINTS``), the world the calls find in ``matrix_world.py``.

Each cell is one request from one caller, on a world built fresh for it: person A and
person B, each with a request awaiting verification, a completed access request with a
released bundle, a verified erasure and a job waiting on a pull system; two pull systems
with their own tokens; a trusted integration; desk users. Besides the status code, every
cell checks what must or must not have happened:

* where the caller is allowed (a 2xx, or a 302 that is not to a login page), the
  endpoint's effect took place (verified, approved, claimed, downloaded...), and a
  page or listing that shows a request shows the caller's own;
* everywhere else the effect did not take place, and a refusal (401, 403, 404, 405, a
  redirect to a login page) changed nothing in the database and shows none of A's or
  B's personal data.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from dsr.core import tokens
from dsr.core.models import (
    AuditEvent,
    ConnectorJob,
    DataSubjectRequest,
    Message,
    Note,
    ResultBundle,
    Status,
    Verification,
)
from tests.factories import RequestFactory
from tests.security.matrix_endpoints import ENDPOINTS, MEMBER
from tests.security.matrix_world import (
    ACTORS,
    ALICE,
    ALLOWED,
    BLIND,
    BOB,
    DESK_SESSIONS,
    LOGIN,
    MOVED,
    ON_B,
    REFUSED,
    SUBJECTS,
    Endpoint,
    World,
    body_text,
)

pytestmark = pytest.mark.django_db

# --- the matrix ---------------------------------------------------------------------------
# Columns, in the order of ACTORS:
#   anon  own  A→B  tokA→B  officer  admin  auditor  sysA  sysB  integ  offtok
ALL_200 = (200,) * 11
DESK_READ = (LOGIN, LOGIN, LOGIN, LOGIN, 200, 200, 200, LOGIN, LOGIN, LOGIN, LOGIN)
DESK_ACT = (LOGIN, LOGIN, LOGIN, LOGIN, 302, 302, 403, LOGIN, LOGIN, LOGIN, LOGIN)
DESK_API_READ = (401, 401, 401, 401, 200, 200, 200, 401, 401, 401, 200)
DESK_API_ACT = (401, 401, 401, 401, 200, 200, 403, 401, 401, 401, 200)
SYSTEMS_ONLY = (401, 401, 401, 401, 401, 401, 401, 200, 404, 401, 401)
ADMIN_ONLY = (LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, 200, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN)
ADMIN_READ_ONLY = (LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, 403, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN)
OWN_PAGE = (404, 200, 404, 404, 404, 404, 404, 404, 404, 404, 404)
OWN_API = (401, 200, 401, 404, 401, 401, 401, 404, 404, 404, 401)
CODE_PAGE = (400, 302, 400, 400, 400, 400, 400, 400, 400, 400, 400)
CODE_API = (400, 200, 400, 400, 400, 400, 400, 400, 400, 400, 400)

MATRIX: dict[str, tuple] = {
    # route                                                 anon   own    A→B    tokA→B officer admin  auditor sysA   sysB   integ  offtok
    "":                                                     ALL_200,
    "i18n/setlang/":                                        (302,) * 11,  # the language cookie, for anyone
    "requests/<str:reference>/":                            OWN_PAGE,
    "requests/<str:reference>/open/<str:token>/":           (404, 302, 404, 404, 404, 404, 404, 404, 404, 404, 404),
    "requests/<str:reference>/verify/":                     CODE_PAGE,
    "requests/<str:reference>/verify/<str:token>/":         CODE_PAGE,
    "requests/<str:reference>/resend/":                     (302,) * 11,  # only ever mails the address on file
    "requests/<str:reference>/download/code/":              (404, 302, 404, 404, 404, 404, 404, 404, 404, 404, 404),
    "requests/<str:reference>/download/":                   OWN_PAGE,
    "requests/<str:reference>/cancel/":                     (404, 302, 404, 404, 404, 404, 404, 404, 404, 404, 404),
    "brand.css":                                            ALL_200,
    "favicon.ico":                                          ALL_200,
    "demo/privacy-notice/":                                 ALL_200,
    "api/v1/requests/":                                     (201, 401, 201, 401, 201, 201, 201, 401, 401, 201, 201),
    "api/v1/requests/<str:reference>/":                     OWN_API,
    "api/v1/requests/<str:reference>/verify/":              CODE_API,
    "api/v1/requests/<str:reference>/resend/":              (202,) * 11,  # only ever mails the address on file
    "api/v1/requests/<str:reference>/download/code/":       (401, 202, 401, 404, 401, 401, 401, 404, 404, 404, 401),
    "api/v1/requests/<str:reference>/download/":            OWN_API,
    "api/v1/systems/jobs/":                                 (401, 401, 401, 401, 401, 401, 401, 200, BLIND, 401, 401),
    "api/v1/systems/jobs/<uuid:job_id>/claim/":             SYSTEMS_ONLY,
    "api/v1/systems/jobs/<uuid:job_id>/result/":            SYSTEMS_ONLY,
    "api/v1/systems/suppression/check":                     (401, 401, 401, 401, 401, 401, 401, 200, 200, 401, 401),
    "api/v1/desk/requests/":                                DESK_API_READ,
    "api/v1/desk/requests/<request:request_id>/":              DESK_API_READ,
    "api/v1/desk/requests/<request:request_id>/<slug:action>/": DESK_API_ACT,
    "api/v1/desk/people/":                                  DESK_API_READ,
    "api/v1/desk/requests/<request:request_id>/audit/":     DESK_API_READ,
    "api/v1/desk/requests/<request:request_id>/emails/":    DESK_API_READ,
    "api/v1/desk/requests/<request:request_id>/message/":   (401, 401, 401, 401, 201, 201, 403, 401, 401, 401, 201),
    "api/v1/desk/jobs/<uuid:job_id>/<slug:action>/":        DESK_API_ACT,
    "api/v1/desk/bulk/<slug:action>/":                      DESK_API_ACT,
    "api/schema/":                                          ALL_200,
    "api/docs/":                                            ALL_200,
    "desk/":                                                DESK_READ,
    "desk/login/":                                          ALL_200,
    "desk/logout/":                                         (LOGIN,) * 11,  # logging out is harmless
    "desk/bulk/":                                           DESK_ACT,
    "desk/reports/":                                        DESK_READ,
    "desk/audit/":                                          DESK_READ,
    "desk/people/<str:key>/":                               DESK_READ,
    "desk/reports/ccpa/":                                   DESK_READ,
    "desk/reports/ccpa.csv":                                DESK_READ,
    "desk/reports/requests.csv":                            DESK_READ,
    "desk/requests/<request:request_id>/":                     DESK_READ,
    "desk/requests/<request:request_id>/progress/":            DESK_READ,
    "desk/requests/<request:request_id>/certificate/":         DESK_READ,
    "desk/requests/<request:request_id>/<slug:action>/":       DESK_ACT,
    "desk/jobs/<uuid:job_id>/<slug:action>/":               DESK_ACT,
    "admin/":                                               ADMIN_ONLY,
    "admin/login/":                                         (200, 200, 200, 200, 200, MOVED, 200, 200, 200, 200, 200),
    "admin/logout/":                                        (MOVED,) * 5 + (200,) + (MOVED,) * 5,
    "admin/password_change/":                               ADMIN_ONLY,
    "admin/password_change/done/":                          ADMIN_ONLY,
    "admin/autocomplete/":                                  ADMIN_READ_ONLY,  # 403 for admins: no field asked
    "admin/jsi18n/":                                        ADMIN_ONLY,
    "admin/r/<path:content_type_id>/<path:object_id>/":     (LOGIN,) * 5 + (404,) + (LOGIN,) * 5,
    "admin/^(?P<app_label>auth|dsr)/$":                     ADMIN_ONLY,
    "admin/(?P<url>.*)$":                                   (LOGIN,) * 5 + (404,) + (LOGIN,) * 5,
    "demo/marketing-webhook/":                              (401,) * 11,
    **{f"demo/mailchimp/3.0/{route}": (401,) * 11 for route in [
        "ping", MEMBER, f"{MEMBER}/notes", f"{MEMBER}/tags", f"{MEMBER}/actions/delete-permanent"]},
}
# Each model's six admin URLs: the changelist, add, history, delete, change, and the short
# object URL that redirects to the change page. Authenticators, requests, events and jobs are
# read-only (an authenticator's secret is never shown: no QR code, no configuration page).
for _model, _writable in [("auth/group", True), ("auth/user", True), ("dsr/totpdevice", False),
                          ("dsr/datasubjectrequest", False), ("dsr/auditevent", False),
                          ("dsr/systemconnection", True), ("dsr/connectorjob", False)]:
    _write = ADMIN_ONLY if _writable else ADMIN_READ_ONLY
    MATRIX.update({
        f"admin/{_model}/": ADMIN_ONLY,
        f"admin/{_model}/add/": _write,
        f"admin/{_model}/<path:object_id>/history/": ADMIN_ONLY,
        f"admin/{_model}/<path:object_id>/delete/": _write,
        f"admin/{_model}/<path:object_id>/change/": ADMIN_ONLY,
        f"admin/{_model}/<path:object_id>/": (LOGIN,) * 5 + (MOVED,) + (LOGIN,) * 5,
    })
MATRIX["admin/auth/user/<id>/password/"] = ADMIN_ONLY

# The action routes are called above with one action each (approve; skip). Revoking a request's
# status links has rows of its own: the same callers may, and the same may not, as for approving.
ACTION_ROWS: dict[str, tuple] = {
    "desk/requests/<request:request_id>/revoke/":           DESK_ACT,
    "api/v1/desk/requests/<request:request_id>/revoke/":    DESK_API_ACT,
}
ROWS = {**MATRIX, **ACTION_ROWS}


def routes() -> list[str]:
    """Every URL pattern of the project, as its route text, in URLconf order."""
    found: list[str] = []

    def walk(patterns: list, prefix: str) -> None:
        for item in patterns:
            if isinstance(item, URLResolver):
                walk(item.url_patterns, prefix + str(item.pattern))
            elif isinstance(item, URLPattern):
                found.append(prefix + str(item.pattern))

    walk(get_resolver().url_patterns, "")
    return found


def fingerprint() -> tuple:
    """What a refused call must leave exactly as it was."""
    return (
        list(DataSubjectRequest.objects.order_by("pk").values_list(
            "pk", "status", "assignee_id", "verified_at", "status_revocations")),
        list(ConnectorJob.objects.order_by("pk").values_list("pk", "status", "claimed_at", "attempts")),
        list(Verification.objects.order_by("pk").values_list("pk", "attempts", "used_at", "superseded")),
        list(ResultBundle.objects.order_by("pk").values_list("pk", "downloads")),
        Note.objects.count(),
        Message.objects.count(),
        AuditEvent.objects.count(),
        get_user_model().objects.count(),
    )


def credentials(w: World, actor: str, endpoint: Endpoint) -> dict[str, str]:
    """Log the caller in, or return the header they send."""
    headers: dict[str, str] = {}
    if actor in DESK_SESSIONS:
        w.log_in(DESK_SESSIONS[actor])
    elif actor in SUBJECTS:
        holder = getattr(w, f"{endpoint.target or 'done'}_a")
        if actor != "subject_on_b":
            headers["Authorization"] = f"Bearer {tokens.status_token(holder)}"
    elif actor in ("system_a", "system_b"):
        headers["Authorization"] = f"Bearer {getattr(w, actor).token}"
    elif actor == "integration":
        headers["Authorization"] = f"Bearer {w.integration_token}"
    elif actor == "officer_token":
        headers["Authorization"] = f"Token {w.officer_key()}"
    return headers


def send(w: World, actor: str, endpoint: Endpoint, headers: dict[str, str]) -> Any:
    call = endpoint.call(w, actor)
    path = call.path
    token = headers.get("Authorization", "")[len("Bearer "):] if actor in SUBJECTS else ""
    if token:  # the pages take the status token as ?t=
        path += ("&" if "?" in path else "?") + urlencode({"t": token})
    if call.method == "GET":
        return w.client.get(path, headers=headers)
    if call.json:
        return w.client.post(path, json.dumps(call.data), content_type="application/json", headers=headers)
    return w.client.post(path, call.data, headers=headers)


def is_login(response: Any) -> bool:
    return response.status_code == 302 and re.match(r"^/(desk|admin)/login/", response["Location"]) is not None


def check_cell(w: World, route: str, actor: str, capture: Any) -> None:
    """One cell: the answer, the effect, what is shown, and nothing changed by a refusal."""
    expected = ROWS[route][ACTORS.index(actor)]
    endpoint = ENDPOINTS[route]
    headers = credentials(w, actor, endpoint)
    before = fingerprint()
    with capture(execute=True):
        response = send(w, actor, endpoint, headers)
    response.body = (b"".join(response.streaming_content) if getattr(response, "streaming", False)
                     else response.content)
    got: Any = response.status_code
    if is_login(response):
        got = LOGIN
    elif got == 302 and expected == MOVED:
        got = MOVED
    elif got == 200 and expected == BLIND:
        got = BLIND if not endpoint.shows(w, response) else 200
    assert got == expected, f"expected {expected}, got {got} {response.get('Location', '')}"

    allowed = expected in ALLOWED
    if endpoint.effect is not None:
        assert endpoint.effect(w) is allowed, f"the effect {'is missing' if allowed else 'took place'}"
    if endpoint.shows is not None and expected in (200, 201):
        assert endpoint.shows(w, response), "the caller's own request is not shown"
    if not allowed:
        people = [ALICE, BOB] if actor in ON_B else [ALICE]
        leaked = [v for person in people for v in person.values() if v in body_text(response)]
        assert not leaked, f"the answer shows {leaked}"
    if expected in REFUSED or expected in (BLIND, MOVED):
        assert fingerprint() == before, "a refused call changed the database"


def test_every_url_has_a_row_in_the_matrix():
    known = routes()
    missing = [r for r in known if r not in MATRIX or r not in ENDPOINTS]
    assert not missing, f"URLs without a row in the authorization matrix (add one): {missing}"
    stale = sorted(set(MATRIX) - set(known))
    assert not stale, f"rows for URLs that no longer exist: {stale}"
    assert all(len(row) == len(ACTORS) for row in ROWS.values())
    for action in ACTION_ROWS:  # an action's row is a URL of one of the generic action routes
        path = "/" + action.replace("<request:request_id>", "0b7d1e1a-2f51-4c5e-9d0a-3c8a7d6e5f41")
        assert resolve(path).route in MATRIX and action in ENDPOINTS, action


@pytest.mark.parametrize("route", [*routes(), *ACTION_ROWS], ids=lambda r: r or "/")
def test_matrix_row(route, django_capture_on_commit_callbacks):
    """The row's eleven cells. Each runs in a savepoint that is rolled back, so each finds the
    same world; a failing cell is reported with the others rather than hiding them."""
    if route not in ROWS or route not in ENDPOINTS:
        pytest.fail(f"no matrix row for {route!r}")
    w = World()
    endpoint = ENDPOINTS[route]
    for actor in ACTORS:  # build, outside the savepoints, everything the calls will touch
        endpoint.call(w, actor)
    if endpoint.effect is not None:
        endpoint.effect(w)
    for credential in ("system_a", "system_b", "integration_token"):  # the callers' credentials
        getattr(w, credential)
    failures = []
    for actor in ACTORS:
        savepoint = transaction.savepoint()
        try:
            check_cell(w, route, actor, django_capture_on_commit_callbacks)
        except AssertionError as exc:
            failures.append(f"{actor}: {exc}".splitlines()[0])
        finally:
            transaction.savepoint_rollback(savepoint)
            cache.clear()
            w.client.cookies.clear()  # each caller has a browser of their own (the status cookie)
    assert not failures, f"{route}:\n  " + "\n  ".join(failures)


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.DENIED, Status.IN_PROGRESS, Status.REVIEW])
def test_a_reference_alone_tells_nothing_of_the_request(client, status):
    """Someone who only knows B's reference learns neither B's data nor how B's request went."""
    bob = RequestFactory(kind="access", status=status, identifiers=dict(BOB), verified_at=timezone.now(),
                         denial_reason="We could not find you" if status == Status.DENIED else "")
    label = bob.get_status_display().lower()
    pages = [f"/requests/{bob.reference}/verify/", f"/requests/{bob.reference}/verify/forged/",
             f"/requests/{bob.reference}/"]
    for path in pages:
        text = client.get(path).content.decode()
        assert label not in text.lower() and "could not find you" not in text, path
        assert not [v for v in BOB.values() if v in text], path
    unknown = client.get("/requests/DSR-0000-0000/")
    assert _unmasked(client.get(f"/requests/{bob.reference}/").content) == _unmasked(unknown.content)


def _unmasked(page: bytes) -> bytes:
    """The page less its CSRF token (the language switcher's form), which Django masks afresh each time."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b'name="csrfmiddlewaretoken"', page)
