"""Who may do what: every URL of the product × every kind of caller, one cell at a time.

The URLs come from the URLconf itself (public pages, public API, systems API, desk
pages, officer API, the admin, the demo receiver), so a URL added without a row in
``MATRIX`` fails ``test_every_url_has_a_row_in_the_matrix``.

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

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from dsr.core import tokens
from dsr.core.audit import Actor
from dsr.core.crypto import identifier_hash
from dsr.core.models import (
    ApiToken,
    AuditEvent,
    ConnectorJob,
    DataSubjectRequest,
    EmailLog,
    IntegrationToken,
    Message,
    Note,
    ResultBundle,
    Status,
    SystemConnection,
    Verification,
)
from dsr.core.roles import Role, grant
from dsr.desk.auth import token_hash as api_token_hash
from dsr.engine import connections
from dsr.intake import verification
from dsr.results import access
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

ALICE = {"email": "alice.matrix@example.com", "name": "Alice Matrixperson", "phone": "+49 30 5550101"}
BOB = {"email": "bob.matrix@example.com", "name": "Bob Matrixperson", "phone": "+49 30 5550202"}

# --- the callers --------------------------------------------------------------------------

ACTORS = (
    "anonymous",  # no credentials at all
    "subject",  # person A, with A's status token (and A's code and link), on A's request
    "subject_on_b",  # person A holding B's reference, without a token for it (A's code, A's link)
    "subject_token_on_b",  # person A sending A's status token for B's reference
    "officer",  # desk session with a verified second factor
    "administrator",
    "auditor",
    "system_a",  # pull system A's bearer token; the target job is A's
    "system_b",  # pull system B's bearer token, on system A's job
    "integration",  # a trusted integration's bearer token
    "officer_token",  # an officer's personal API token (Authorization: Token ...)
)
ON_B = {"subject_on_b", "subject_token_on_b"}
SUBJECTS = {"subject", *ON_B}
DESK_SESSIONS = {"officer": Role.OFFICER, "administrator": Role.ADMINISTRATOR, "auditor": Role.AUDITOR}

# --- what an answer may be ----------------------------------------------------------------

LOGIN = "login"  # a 302 to the desk's or the admin's login page
MOVED = "moved"  # a 302 somewhere else that does nothing (the admin's short object URLs)
BLIND = "blind"  # 200, and nothing of the target in it (another system's job list)
ALLOWED = {200, 201, 202, 302}
REFUSED = {401, 403, 404, 405, LOGIN}


@dataclass
class Call:
    method: str
    path: str
    data: dict[str, Any] = field(default_factory=dict)
    json: bool = False


@dataclass
class Endpoint:
    """How to call a URL in a cell, and how to tell whether it did its work."""

    call: Callable[[World, str], Call]
    target: str | None = None  # which of A's objects the subject's credentials belong to
    effect: Callable[[World], bool] | None = None  # did the guarded thing happen?
    shows: Callable[[World, Any], bool] | None = None  # does the answer show the target?


# --- the world ----------------------------------------------------------------------------


class World:
    """Everything a cell may need, made on first use, so a cell only pays for what it calls."""

    def __init__(self) -> None:
        self.client = Client()

    # person A's object of that name, or person B's for the callers who aim at B
    def pick(self, name: str, actor: str) -> Any:
        return getattr(self, f"{name}_{'b' if actor in ON_B else 'a'}")

    def _awaiting(self, person: dict) -> DataSubjectRequest:
        request = RequestFactory(kind="access", identifiers=dict(person))
        request.issued = verification.issue_code(request)
        return request

    @cached_property
    def new_a(self) -> DataSubjectRequest:
        return self._awaiting(ALICE)

    @cached_property
    def new_b(self) -> DataSubjectRequest:
        return self._awaiting(BOB)

    def _done(self, person: dict) -> DataSubjectRequest:
        request = RequestFactory(kind="access", status=Status.REVIEW, identifiers=dict(person))
        access.release(request, actor=Actor.scheduler())
        request.download = verification.issue_code(request, purpose="download")
        return request

    @cached_property
    def done_a(self) -> DataSubjectRequest:
        return self._done(ALICE)

    @cached_property
    def done_b(self) -> DataSubjectRequest:
        return self._done(BOB)

    @cached_property
    def verified_a(self) -> DataSubjectRequest:
        return RequestFactory(kind="erasure", status=Status.VERIFIED, identifiers=dict(ALICE))

    def _system(self, name: str) -> SystemConnection:
        system = SystemConnection.objects.create(name=name, connector="pull")
        system.token = f"{name}-token-{'z' * 32}"
        SystemConnection.objects.filter(pk=system.pk).update(token_hash=connections.token_hash(system.token))
        return system

    @cached_property
    def system_a(self) -> SystemConnection:
        return self._system("system-a")

    @cached_property
    def system_b(self) -> SystemConnection:
        return self._system("system-b")

    def _job(self, system: SystemConnection, person: dict) -> ConnectorJob:
        request = RequestFactory(kind="access", status=Status.IN_PROGRESS, identifiers=dict(person))
        return ConnectorJob.objects.create(
            request=request, system=system, action="export", idempotency_key=f"{system.name}-job",
            status="waiting",
        )

    @cached_property
    def job_a(self) -> ConnectorJob:
        return self._job(self.system_a, ALICE)

    @cached_property
    def job_b(self) -> ConnectorJob:
        return self._job(self.system_b, BOB)

    @cached_property
    def integration_token(self) -> str:
        token = "integration-" + "k" * 40
        IntegrationToken.objects.create(name="website", token_hash=hashlib.sha256(token.encode()).hexdigest())
        return token

    @cached_property
    def clerk(self):
        """A desk user and their device, the objects of the admin's user and device pages."""
        user = get_user_model().objects.create_user("clerk", "clerk@corp.example", None)
        grant(user, Role.OFFICER)
        TOTPDevice.objects.create(user=user, name="clerk-phone", confirmed=True)
        return user

    @cached_property
    def device(self) -> TOTPDevice:
        return TOTPDevice.objects.get(user=self.clerk)

    @cached_property
    def group(self) -> Group:
        return Group.objects.get_or_create(name="officer")[0]

    @cached_property
    def email_a(self) -> EmailLog:
        return EmailLog.objects.create(request=self.done_a, template="outcome_completed", status="sent",
                                       subject=f"Your privacy request {self.done_a.reference} is complete")

    @cached_property
    def event(self) -> AuditEvent:
        return AuditEvent.objects.filter(request=self.done_a).first()

    # credentials ---------------------------------------------------------------------
    def log_in(self, role: Role) -> None:
        user = get_user_model().objects.create_user(f"desk-{role.value}", f"{role.value}@corp.example", None)
        grant(user, role)
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        self.client.force_login(user)
        session = self.client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()

    def officer_key(self) -> str:
        user = get_user_model().objects.create_user("scripter", "scripter@corp.example", None)
        grant(user, Role.OFFICER)
        key = "dsrtok_" + "s" * 40
        ApiToken.objects.create(user=user, key_hash=api_token_hash(key))
        return key


def guess(real: str) -> str:
    """A six-digit code that is certainly not ``real``."""
    return f"{(int(real) + 1) % 10**6:06d}"


def code_held(w: World, actor: str, name: str = "new") -> str:
    """A's code if the caller is person A (used on B's request too); a guess otherwise."""
    real = w.new_a.issued.code if name == "new" else w.done_a.download.code
    return real if actor in SUBJECTS else guess(real)


def link_held(w: World, actor: str) -> str:
    return w.new_a.issued.link_token if actor in SUBJECTS else "forged-link-token"


def reference(w: World, name: str, actor: str) -> str:
    return w.pick(name, actor).reference


def reload(obj: Any) -> Any:
    return type(obj).objects.get(pk=obj.pk)


def status_of(obj: DataSubjectRequest) -> str:
    return reload(obj).status


# --- the endpoints ------------------------------------------------------------------------



MEMBER = "lists/<str:list_id>/members/<str:sub>"
ANA_HASH = hashlib.md5(b"ana.demo@example.org", usedforsecurity=False).hexdigest()

def get(path: str | Callable[[World, str], str], **kw: Any) -> Endpoint:
    return Endpoint(lambda w, a: Call("GET", path(w, a) if callable(path) else path), **kw)


def post(path: Callable[[World, str], str] | str, data: Callable[[World, str], dict] | None = None,
         *, json_body: bool = False, **kw: Any) -> Endpoint:
    def call(w: World, a: str) -> Call:
        return Call("POST", path(w, a) if callable(path) else path, data(w, a) if data else {}, json_body)

    return Endpoint(call, **kw)


def api_post(path, data=None, **kw) -> Endpoint:
    return post(path, data, json_body=True, **kw)


def page(name: str, suffix: str = "") -> Callable[[World, str], str]:
    return lambda w, a: f"/requests/{reference(w, name, a)}/{suffix}"


def api(name: str, suffix: str = "") -> Callable[[World, str], str]:
    return lambda w, a: f"/api/v1/requests/{reference(w, name, a)}/{suffix}"


def verified(w: World) -> bool:
    return any(status_of(r) == Status.VERIFIED for r in (w.new_a, w.new_b))


def downloaded(w: World) -> bool:
    return ResultBundle.objects.filter(downloads__gt=0).exists()


def approved(w: World) -> bool:
    return status_of(w.verified_a) != Status.VERIFIED


def job_skipped(w: World) -> bool:
    return reload(w.job_a).status == "skipped"


def shows_reference(name: str) -> Callable[[World, Any], bool]:
    return lambda w, response: getattr(w, f"{name}_a").reference in body_text(response)


def is_zip_of(w: World, response: Any) -> bool:
    archive = zipfile.ZipFile(io.BytesIO(response.body))
    return json.loads(archive.read("manifest.json"))["request"]["reference"] == w.done_a.reference


def lists_job_a(w: World, response: Any) -> bool:
    return str(w.job_a.pk) in body_text(response)


def new_filing(w: World, a: str) -> dict:
    return {"kind": "erasure", "email": "carol.matrix@example.com", "country": "DE"}


def filed(w: World) -> bool:
    return DataSubjectRequest.objects.filter(email_hash=identifier_hash("email", "carol.matrix@example.com")).exists()


def with_objects(path: str, *names: str) -> Callable[[World, str], str]:
    """``path``, once the world holds ``names`` (so that a listing has something to show or hide)."""

    def build(w: World, a: str) -> str:
        for name in names:
            getattr(w, name)
        return path

    return build


def job_path(suffix: str) -> Callable[[World, str], str]:
    # system B has a job of its own too, so that nothing is trivially empty for it
    return lambda w, a: with_objects(f"/api/v1/systems/jobs/{w.job_a.pk}/{suffix}", "job_b")(w, a)


def admin_object(model: str, attr: str, suffix: str) -> Callable[[World, str], str]:
    return lambda w, a: f"/admin/{model}/{getattr(w, attr).pk}/{suffix}"


def admin_model(model: str, attr: str) -> dict[str, Endpoint]:
    """The six URLs Django's admin gives each registered model."""
    return {
        f"admin/{model}/": get(f"/admin/{model}/"),
        f"admin/{model}/add/": get(f"/admin/{model}/add/"),
        f"admin/{model}/<path:object_id>/history/": get(admin_object(model, attr, "history/")),
        f"admin/{model}/<path:object_id>/delete/": get(admin_object(model, attr, "delete/")),
        f"admin/{model}/<path:object_id>/change/": get(admin_object(model, attr, "change/")),
        f"admin/{model}/<path:object_id>/": get(admin_object(model, attr, "")),
    }


def content_type_of_user(w: World, a: str) -> str:
    from django.contrib.contenttypes.models import ContentType

    return f"/admin/r/{ContentType.objects.get_for_model(get_user_model()).pk}/{w.clerk.pk}/"


ENDPOINTS: dict[str, Endpoint] = {
    # public pages
    "": get("/"),
    "requests/<str:reference>/": get(page("done"), target="done", shows=shows_reference("done")),
    "requests/<str:reference>/verify/": post(
        page("new", "verify/"), lambda w, a: {"code": code_held(w, a)}, target="new", effect=verified),
    "requests/<str:reference>/verify/<str:token>/": post(
        lambda w, a: page("new", f"verify/{link_held(w, a)}/")(w, a), target="new", effect=verified),
    "requests/<str:reference>/resend/": post(page("new", "resend/"), target="new"),
    "requests/<str:reference>/download/code/": post(
        page("done", "download/code/"), target="done",
        effect=lambda w: Verification.objects.filter(purpose="download", superseded=True).exists()),
    "requests/<str:reference>/download/": post(
        page("done", "download/"), lambda w, a: {"code": code_held(w, a, "download")}, target="done",
        effect=downloaded, shows=is_zip_of),
    # public API
    "api/v1/requests/": api_post("/api/v1/requests/", new_filing, effect=filed),
    "api/v1/requests/<str:reference>/": get(api("done"), target="done", shows=shows_reference("done")),
    "api/v1/requests/<str:reference>/verify/": api_post(
        api("new", "verify/"), lambda w, a: {"code": code_held(w, a)}, target="new", effect=verified),
    "api/v1/requests/<str:reference>/resend/": api_post(api("new", "resend/"), target="new"),
    "api/v1/requests/<str:reference>/download/code/": api_post(
        api("done", "download/code/"), target="done"),
    "api/v1/requests/<str:reference>/download/": api_post(
        api("done", "download/"), lambda w, a: {"code": code_held(w, a, "download")}, target="done",
        effect=downloaded, shows=is_zip_of),
    # systems API
    "api/v1/systems/jobs/": get(with_objects("/api/v1/systems/jobs/", "job_a", "job_b"), shows=lists_job_a),
    "api/v1/systems/jobs/<uuid:job_id>/claim/": api_post(
        job_path("claim/"), effect=lambda w: reload(w.job_a).claimed_at is not None, shows=lists_job_a),
    "api/v1/systems/jobs/<uuid:job_id>/result/": api_post(
        job_path("result/"), lambda w, a: {"status": "completed", "records": []},
        effect=lambda w: reload(w.job_a).status == "succeeded"),
    "api/v1/systems/suppression/check": api_post(
        "/api/v1/systems/suppression/check",
        lambda w, a: {"kind": "email", "sha256": "0" * 64}),
    # officer API
    "api/v1/desk/requests/": get(with_objects("/api/v1/desk/requests/", "done_a"), shows=shows_reference("done")),
    "api/v1/desk/requests/<request:request_id>/": get(
        lambda w, a: f"/api/v1/desk/requests/{w.done_a.pk}/", shows=shows_reference("done")),
    "api/v1/desk/requests/<request:request_id>/<slug:action>/": api_post(
        lambda w, a: f"/api/v1/desk/requests/{w.verified_a.pk}/approve/", effect=approved),
    "api/v1/desk/people/": get(with_objects(f"/api/v1/desk/people/?email={ALICE['email']}", "done_a"),
                               shows=shows_reference("done")),
    "api/v1/desk/requests/<request:request_id>/audit/": get(
        lambda w, a: f"/api/v1/desk/requests/{w.done_a.pk}/audit/",
        shows=lambda w, r: "released the bundle" in body_text(r)),
    "api/v1/desk/requests/<request:request_id>/emails/": get(
        lambda w, a: with_objects(f"/api/v1/desk/requests/{w.done_a.reference}/emails/", "email_a")(w, a),
        shows=shows_reference("done")),
    "api/v1/desk/requests/<request:request_id>/message/": api_post(
        lambda w, a: f"/api/v1/desk/requests/{w.verified_a.pk}/message/",
        lambda w, a: {"text": "Please send a copy of your ID."},
        effect=lambda w: Message.objects.filter(request=w.verified_a).exists()),
    "api/v1/desk/jobs/<uuid:job_id>/<slug:action>/": api_post(
        lambda w, a: f"/api/v1/desk/jobs/{w.job_a.pk}/skip/", lambda w, a: {"reason": "not ours"},
        effect=job_skipped),
    "api/v1/desk/bulk/<slug:action>/": api_post(
        "/api/v1/desk/bulk/approve/", lambda w, a: {"ids": [str(w.verified_a.pk)]}, effect=approved),
    # API documents
    "api/schema/": get("/api/schema/"),
    "api/docs/": get("/api/docs/"),
    # desk pages
    "desk/": get(with_objects("/desk/", "done_a", "verified_a"), shows=shows_reference("verified")),  # open ones
    "desk/login/": get("/desk/login/"),
    "desk/logout/": post("/desk/logout/"),
    "desk/bulk/": post("/desk/bulk/", lambda w, a: {"action": "approve", "selected": [str(w.verified_a.pk)]},
                       effect=approved),
    "desk/reports/": get("/desk/reports/"),
    "desk/audit/": get(with_objects("/desk/audit/", "done_a"), shows=lambda w, r: "The chain is intact" in body_text(r)),
    "desk/people/<str:key>/": get(lambda w, a: f"/desk/people/{w.done_a.email_hash}/", shows=shows_reference("done")),
    "desk/reports/ccpa/": get("/desk/reports/ccpa/"),
    "desk/reports/ccpa.csv": get("/desk/reports/ccpa.csv"),
    "desk/reports/requests.csv": get(with_objects("/desk/reports/requests.csv", "done_a"),
                                     shows=shows_reference("done")),
    "desk/requests/<request:request_id>/": get(lambda w, a: f"/desk/requests/{w.done_a.pk}/",
                                            shows=shows_reference("done")),
    "desk/requests/<request:request_id>/progress/": get(lambda w, a: f"/desk/requests/{w.job_a.request_id}/progress/",
                                                     shows=lambda w, r: "system-a" in body_text(r)),
    "desk/requests/<request:request_id>/certificate/": get(
        lambda w, a: f"/desk/requests/{w.verified_a.pk}/certificate/", shows=shows_reference("verified")),
    "desk/requests/<request:request_id>/<slug:action>/": post(
        lambda w, a: f"/desk/requests/{w.verified_a.pk}/approve/", effect=approved),
    "desk/jobs/<uuid:job_id>/<slug:action>/": post(
        lambda w, a: f"/desk/jobs/{w.job_a.pk}/skip/", lambda w, a: {"reason": "not ours"}, effect=job_skipped),
    # the admin
    "admin/": get("/admin/"),
    "admin/login/": get("/admin/login/"),
    "admin/logout/": post("/admin/logout/"),
    "admin/password_change/": get("/admin/password_change/"),
    "admin/password_change/done/": get("/admin/password_change/done/"),
    "admin/autocomplete/": get("/admin/autocomplete/"),
    "admin/jsi18n/": get("/admin/jsi18n/"),
    "admin/r/<path:content_type_id>/<path:object_id>/": get(content_type_of_user),
    **admin_model("auth/group", "group"),
    "admin/auth/user/<id>/password/": get(lambda w, a: f"/admin/auth/user/{w.clerk.pk}/password/"),
    **admin_model("auth/user", "clerk"),
    "admin/otp_totp/totpdevice/<int:pk>/config/": get(lambda w, a: f"/admin/otp_totp/totpdevice/{w.device.pk}/config/"),
    "admin/otp_totp/totpdevice/<int:pk>/qrcode/": get(lambda w, a: f"/admin/otp_totp/totpdevice/{w.device.pk}/qrcode/"),
    **admin_model("otp_totp/totpdevice", "device"),
    **admin_model("dsr/datasubjectrequest", "done_a"),
    **admin_model("dsr/auditevent", "event"),
    **admin_model("dsr/systemconnection", "system_a"),
    **admin_model("dsr/connectorjob", "job_a"),
    "admin/^(?P<app_label>auth|otp_totp|dsr)/$": get("/admin/dsr/"),
    "admin/(?P<url>.*)$": get("/admin/no-such-page/"),
    # the demo marketing platform's receiver: nobody gets in without our signature
    "demo/marketing-webhook/": api_post("/demo/marketing-webhook/", lambda w, a: {"action": "check"}),
    # the demo newsletter vendor (Mailchimp's API): nobody gets in without its API key
    **{f"demo/mailchimp/3.0/{route}": call for route, call in [
        ("ping", get("/demo/mailchimp/3.0/ping")),
        (MEMBER, get(f"/demo/mailchimp/3.0/lists/demo-news/members/{ANA_HASH}")),
        (f"{MEMBER}/notes", get(f"/demo/mailchimp/3.0/lists/demo-news/members/{ANA_HASH}/notes")),
        (f"{MEMBER}/tags", get(f"/demo/mailchimp/3.0/lists/demo-news/members/{ANA_HASH}/tags")),
        (f"{MEMBER}/actions/delete-permanent",
         api_post(f"/demo/mailchimp/3.0/lists/demo-news/members/{ANA_HASH}/actions/delete-permanent")),
    ]},
}

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
    "requests/<str:reference>/":                            OWN_PAGE,
    "requests/<str:reference>/verify/":                     CODE_PAGE,
    "requests/<str:reference>/verify/<str:token>/":         CODE_PAGE,
    "requests/<str:reference>/resend/":                     (302,) * 11,  # only ever mails the address on file
    "requests/<str:reference>/download/code/":              (404, 302, 404, 404, 404, 404, 404, 404, 404, 404, 404),
    "requests/<str:reference>/download/":                   OWN_PAGE,
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
    "admin/^(?P<app_label>auth|otp_totp|dsr)/$":            ADMIN_ONLY,
    "admin/(?P<url>.*)$":                                   (LOGIN,) * 5 + (404,) + (LOGIN,) * 5,
    "demo/marketing-webhook/":                              (401,) * 11,
    **{f"demo/mailchimp/3.0/{route}": (401,) * 11 for route in [
        "ping", MEMBER, f"{MEMBER}/notes", f"{MEMBER}/tags", f"{MEMBER}/actions/delete-permanent"]},
}
# Each model's six admin URLs: the changelist, add, history, delete, change, and the short
# object URL that redirects to the change page. Requests, events and jobs are read-only.
for _model, _writable in [("auth/group", True), ("auth/user", True), ("otp_totp/totpdevice", True),
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
MATRIX.update({
    "admin/auth/user/<id>/password/": ADMIN_ONLY,
    "admin/otp_totp/totpdevice/<int:pk>/config/": ADMIN_ONLY,
    "admin/otp_totp/totpdevice/<int:pk>/qrcode/": ADMIN_ONLY,  # drawn with segno
})


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


def body_text(response: Any) -> str:
    return response.body.decode("utf-8", "replace")


def fingerprint() -> tuple:
    """What a refused call must leave exactly as it was."""
    return (
        list(DataSubjectRequest.objects.order_by("pk").values_list("pk", "status", "assignee_id", "verified_at")),
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
    expected = MATRIX[route][ACTORS.index(actor)]
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
    assert all(len(row) == len(ACTORS) for row in MATRIX.values())


@pytest.mark.parametrize("route", routes(), ids=lambda r: r or "/")
def test_matrix_row(route, django_capture_on_commit_callbacks):
    """The row's eleven cells. Each runs in a savepoint that is rolled back, so each finds the
    same world; a failing cell is reported with the others rather than hiding them."""
    if route not in MATRIX or route not in ENDPOINTS:
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
    assert client.get(f"/requests/{bob.reference}/").content == unknown.content
