"""The authorization matrix's world: its people, callers and objects (see test_authz_matrix)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

from dsr.core.audit import Actor
from dsr.core.models import (
    ApiToken,
    AuditEvent,
    ConnectorJob,
    DataSubjectRequest,
    EmailLog,
    IntegrationToken,
    Status,
    SystemConnection,
    TOTPDevice,
)
from dsr.core.roles import Role, grant
from dsr.desk.auth import token_hash as api_token_hash
from dsr.engine import connections
from dsr.intake import verification
from dsr.results import access
from tests.factories import RequestFactory

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

    @cached_property
    def verified_b(self) -> DataSubjectRequest:
        return RequestFactory(kind="erasure", status=Status.VERIFIED, identifiers=dict(BOB))

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


def status_held(w: World, actor: str) -> str:
    """A's status token (of A's completed request) if the caller is person A; a forgery otherwise."""
    from dsr.core import tokens

    return tokens.status_token(w.done_a) if actor in SUBJECTS else "forged-status-token"


def reference(w: World, name: str, actor: str) -> str:
    return w.pick(name, actor).reference


def reload(obj: Any) -> Any:
    return type(obj).objects.get(pk=obj.pk)


def status_of(obj: DataSubjectRequest) -> str:
    return reload(obj).status



def body_text(response: Any) -> str:
    return response.body.decode("utf-8", "replace")


