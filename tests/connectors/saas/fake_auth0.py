"""Auth0's Management API v2 as its reference (and the SDK generated from it, auth0/node-auth0)
describes what the template uses: a client-credentials token from ``/oauth/token`` for the
audience ``https://{tenant}/api/v2/``, ``GET /api/v2/users-by-email`` (an exact,
case-sensitive match, answered as a plain list), ``GET /api/v2/users/{id}/logs`` paged by
``page`` (from 0) and ``per_page`` (at most 100) with ``include_totals``, ``DELETE`` (204) and
``PATCH`` of a user, and ``{statusCode, error, message, errorCode}`` errors.

The token endpoint's refusal (401 ``access_denied`` / ``Unauthorized``) and the API's 401
``Invalid token`` are as commonly reported, not quoted from an Auth0 page; see the template's
header."""

from __future__ import annotations

import itertools
from typing import Any

from .vendor_server import Fake, Reply, Request, Tokens, page_size, route

DOMAIN = "acme.eu.auth0.com"
AUDIENCE = f"https://{DOMAIN}/api/v2/"
CLIENT_ID = "Xq2fakeM2MclientIdForDsrHandler"
CLIENT_SECRET = "fake-auth0-client-secret-6b1f0c2e9d"
DATABASE = "Username-Password-Authentication"  # a tenant's default database connection
UPDATABLE = {"blocked", "email_verified", "email", "phone_number", "phone_verified",
             "user_metadata", "app_metadata", "given_name", "family_name", "name", "nickname",
             "picture", "username", "password", "verify_email", "connection", "client_id"}  # fmt: skip


def error(status: int, text: str, message: str, code: str | None = None) -> Reply:
    body: dict[str, Any] = {"statusCode": status, "error": text, "message": message}
    if code:
        body["errorCode"] = code
    return status, body


class FakeAuth0(Fake):
    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []
        self.logs: list[dict[str, Any]] = []
        self.tokens = Tokens(prefix="eyJhbGciOiJSUzI1NiJ9.fake-management-token-")
        self._serial = itertools.count(1)

    # -- data ---------------------------------------------------------------------
    def add_user(self, connection: str, email: str, name: str, *, logins: int) -> str:
        provider = "auth0" if connection == DATABASE else connection
        uid = f"{provider}|{next(self._serial):024x}"
        self.users[uid] = {
            "user_id": uid,
            "email": email,
            "email_verified": True,
            "name": name,
            "given_name": name.split()[0],
            "family_name": name.split()[-1],
            "nickname": email.split("@")[0],
            "picture": "https://s.gravatar.com/avatar/0?s=480",
            "identities": [{"connection": connection, "provider": provider,
                            "user_id": uid.split("|", 1)[1], "isSocial": provider != "auth0"}],
            "created_at": "2025-01-02T10:00:00.000Z",
            "updated_at": "2025-01-02T10:00:00.000Z",
            "last_ip": "203.0.113.7",
            "logins_count": logins,
        }  # fmt: skip
        for n in range(logins):
            self.logs.append({
                "log_id": f"900200{next(self._serial):020d}",
                "date": f"2025-02-{1 + n % 28:02d}T08:00:00.000Z",
                "type": "s",
                "description": "Successful login",
                "client_id": "webAppClientId",
                "client_name": "Acme web shop",
                "ip": "203.0.113.7",
                "user_agent": "Firefox 128.0.0 / Linux 0.0.0",
                "user_id": uid,
                "user_name": email,
                "connection": connection,
            })  # fmt: skip
        return uid

    # -- OAuth --------------------------------------------------------------------
    @route("POST", r"/oauth/token")
    def token(self, request: Request) -> Reply:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant type: " + str(form.get("grant_type"))}  # fmt: skip
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return 401, {"error": "access_denied", "error_description": "Unauthorized"}
        if form.get("audience") != AUDIENCE:
            return 403, {"error": "access_denied", "error_description": f"Service not enabled within domain: {form.get('audience')}"}  # fmt: skip
        return 200, {
            "access_token": self.tokens.issue(),
            "scope": "read:users update:users delete:users read:logs read:logs_users",
            "expires_in": 86400,
            "token_type": "Bearer",
        }

    def authorize(self, request: Request) -> Reply | None:
        if request.path == "/oauth/token" or self.tokens.bearer(request):
            return None
        if "authorization" not in request.headers:
            return error(401, "Unauthorized", "Missing authentication")
        return error(401, "Unauthorized", "Invalid token")

    def missing(self, request: Request) -> Reply:
        return error(404, "Not Found", "Not Found")

    # -- Management API -----------------------------------------------------------
    @route("GET", r"/api/v2/users-by-email")
    def users_by_email(self, request: Request) -> Reply:
        email = request.arg("email")
        if not email:
            return error(400, "Bad Request", "Query validation error: 'Missing required property: email' on property email (Email address to search for (case-sensitive)).", "invalid_query_string")  # fmt: skip
        return 200, [u for u in self.users.values() if u["email"] == email]  # case-sensitive

    @route("GET", r"/api/v2/users/([^/]+)/logs")
    def user_logs(self, request: Request, uid: str) -> Reply:
        per_page = page_size(request, "per_page", default=50, maximum=100)
        if isinstance(per_page, tuple):
            return error(400, "Bad Request", "Query validation error: 'Too large' on property per_page", "invalid_query_string")  # fmt: skip
        page = int(request.arg("page", "0"))
        mine = [entry for entry in self.logs if entry["user_id"] == uid]
        chunk = mine[page * per_page : (page + 1) * per_page]
        if request.arg("include_totals") != "true":
            return 200, chunk
        return 200, {"start": page * per_page, "limit": per_page, "length": len(chunk),
                     "total": len(mine), "logs": chunk}  # fmt: skip

    @route("DELETE", r"/api/v2/users/([^/]+)")
    def delete_user(self, request: Request, uid: str) -> Reply:
        # the reference lists no 404 here: deleting an absent user answers as a deletion does
        if self.users.pop(uid, None) is not None:
            self.deleted.append(uid)
        return 204, None

    @route("PATCH", r"/api/v2/users/([^/]+)")
    def update_user(self, request: Request, uid: str) -> Reply:
        user = self.users.get(uid)
        if user is None:
            return error(404, "Not Found", "The user does not exist.", "inexistent_user")
        changes = request.json or {}
        extra = sorted(set(changes) - UPDATABLE)
        if extra:
            return error(400, "Bad Request", f"Payload validation error: 'Additional properties not allowed: {extra[0]}'.", "invalid_body")  # fmt: skip
        user.update(changes)
        return 200, user


def populated() -> tuple[FakeAuth0, dict[str, Any]]:
    """Alice signs in with a password (250 log events: three pages) and with Google (3);
    her company's SAML connection stored her address as Alice@Example.com, which a search in
    lower case does not find (Auth0 documents the search as case-sensitive). Bob is someone
    else."""
    auth0 = FakeAuth0()
    alice = {
        auth0.add_user(DATABASE, "alice@example.com", "Alice Liddell", logins=250),
        auth0.add_user("google-oauth2", "alice@example.com", "Alice Liddell", logins=3),
    }
    work = auth0.add_user("samlp", "Alice@Example.com", "Alice Liddell", logins=2)
    bob = auth0.add_user(DATABASE, "bob@example.com", "Bob Builder", logins=10)
    return auth0, {"alice": alice, "alice_at_work": work, "bob": bob}
