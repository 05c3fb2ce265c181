"""A made-up vendor for what no real template here uses: an OAuth 2.0 client-credentials
token endpoint (RFC 6749 sections 4.4 and 5.2), API keys in a header or the query, and
``Link: <…>; rel="next"`` paging (RFC 8288, as GitHub pages its lists)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlencode

from .vendor_server import Fake, Reply, Request, Tokens, route

CLIENT_ID, CLIENT_SECRET = "acme-client", "acme-client-secret-4f1c9d"
API_KEY = "acme-api-key-77d2e0"

TEMPLATE = """
name: acme
title: Acme CRM (test vendor)
docs: [https://example.com/acme/api]
base_url: https://api.acme.example
secrets:
  client_id: {description: OAuth client id}
  client_secret: {description: OAuth client secret}
  api_key: {description: API key}
auth: AUTH
categories:
  people: People
check:
  - {method: GET, path: /api/people, query: {email: nobody@example.com}}
find:
  - name: person
    category: people
    request: {method: GET, path: /api/people, query: {email: "{{ subject.email }}"}}
    paging: {kind: link_header, size_param: per_page, size: 50}
"""

AUTHS = {
    "oauth": "{kind: oauth2_client_credentials, token_url: /oauth/token, "
    "client_id: '{{ secrets.client_id }}', client_secret: '{{ secrets.client_secret }}', "
    "scope: people.read}",
    "header": "{kind: header, name: X-Api-Key, value: '{{ secrets.api_key }}'}",
    "query": "{kind: query, name: api_key, value: '{{ secrets.api_key }}'}",
}
SECRETS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "api_key": API_KEY}


class FakeAcme(Fake):
    def __init__(self, auth: str) -> None:
        self.auth = auth
        self.lifetime = 3600
        self.tokens = Tokens()
        self.people = [
            {"id": n, "email": "alice@example.com" if n % 2 else f"x{n}@example.com"}
            for n in range(1, 241)
        ]
        self.foreign_next: str | None = None  # a rel=next link to hand out instead of ours

    def authorize(self, request: Request) -> Reply | None:
        if request.path == "/oauth/token":
            return None
        if self.auth == "oauth":
            ok = self.tokens.bearer(request)
        elif self.auth == "header":
            ok = request.headers.get("x-api-key") == API_KEY
        else:
            ok = request.arg("api_key") == API_KEY
        return (
            None if ok else (401, {"error": "invalid_token", "error_description": "Unknown token"})
        )

    @route("POST", r"/oauth/token")
    def token(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        given = request.headers.get("authorization", "")
        client = base64.b64decode(given[6:]).decode() if given.startswith("Basic ") else ""
        if (
            form.get("grant_type") != "client_credentials"
            or client != f"{CLIENT_ID}:{CLIENT_SECRET}"
        ):
            return 401, {
                "error": "invalid_client",
                "error_description": "Client authentication failed",
            }
        return 200, {
            "access_token": self.tokens.issue(),
            "token_type": "Bearer",
            "expires_in": self.lifetime,
            "scope": form.get("scope", ""),
        }

    @route("GET", r"/api/people")
    def people_list(self, request: Request) -> Reply:
        email = request.arg("email")
        size, page = int(request.arg("per_page", "30")), int(request.arg("page", "1"))
        hits = [p for p in self.people if p["email"] == email]
        chunk: list[dict[str, Any]] = hits[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(hits):
            query = {"email": email, "per_page": size, "page": page + 1}
            link = self.foreign_next or f"{request.headers['host']}/api/people?{urlencode(query)}"
            headers["Link"] = f'<http://{link}>; rel="next"'
        return 200, chunk, headers
