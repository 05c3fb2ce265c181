"""How a template's requests say who we are: a bearer token, basic auth, an API key in
a header or the query, or an OAuth 2.0 client-credentials token.

The client-credentials token (RFC 6749 section 4.4) is fetched on first use, kept
until shortly before it expires, and fetched again after that or when the vendor
answers 401 (a token revoked early). Fetching goes through the same client as every
other request, so it gets the same timeouts, TLS and error handling.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote_plus

import httpx

from ..base import ConnectorError
from .expressions import Scope
from .paging import Answer, Call

#: A token is fetched again this long before it expires (or at 90% of a shorter life).
LEEWAY = 60.0


class Auth:
    """Adds credentials to a request; ``refresh`` says whether a 401 is worth one retry."""

    def apply(self, request: httpx.Request) -> None:
        raise NotImplementedError

    def refresh(self) -> bool:
        return False


class Header(Auth):
    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def apply(self, request: httpx.Request) -> None:
        request.headers[self.name] = self.value


class QueryKey(Auth):
    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def apply(self, request: httpx.Request) -> None:
        request.url = request.url.copy_merge_params({self.name: self.value})


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class ClientCredentials(Auth):
    """A cached OAuth 2.0 access token; ``send`` posts to the token URL without auth."""

    def __init__(
        self,
        *,
        token_url: str,
        form: Mapping[str, str],
        headers: Mapping[str, str],
        send: Callable[[Call], Answer | None],
        note_secret: Callable[[str], None],
    ) -> None:
        self._call = Call(
            "POST",
            token_url,
            "POST (token URL)",
            form=dict(form),
            headers=dict(headers),
            elsewhere=True,
        )
        self._send = send
        self._note_secret = note_secret
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self._current()}"

    def refresh(self) -> bool:
        with self._lock:
            self._token = None
        return True

    def _current(self) -> str:
        with self._lock:  # one fetch at a time; the others wait for its token
            if self._token is None or time.monotonic() >= self._renew_at:
                self._token, lifetime = self._fetch()
                self._renew_at = time.monotonic() + max(lifetime - LEEWAY, lifetime * 0.9)
            return self._token

    def _fetch(self) -> tuple[str, float]:
        answer = self._send(self._call)
        body = answer.body if answer is not None else None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ConnectorError("the token URL answered without an access_token", permanent=True)
        self._note_secret(token)
        lifetime = body.get("expires_in", 3600)
        if not isinstance(lifetime, (int, float)) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = 3600
        return token, float(lifetime)


def build(
    spec: Mapping[str, Any],
    scope: Scope,
    *,
    token_url: str | None,
    send: Callable[[Call], Answer | None],
    note_secret: Callable[[str], None],
) -> Auth:
    """The :class:`Auth` for a template's ``auth`` section, with its placeholders filled in."""
    values: dict[str, Any] = {key: scope.render(value) for key, value in spec.items()}
    kind = values["kind"]
    if kind == "bearer":
        return Header("Authorization", f"Bearer {values['token']}")
    if kind == "basic":
        return Header("Authorization", basic(str(values["username"]), str(values["password"])))
    if kind == "header":
        return Header(values["name"], str(values["value"]))
    if kind == "query":
        return QueryKey(values["name"], str(values["value"]))
    form = {"grant_type": "client_credentials"}
    form.update({key: str(values[key]) for key in ("scope", "audience") if key in values})
    headers: dict[str, str] = {}
    client_id, client_secret = str(values["client_id"]), str(values["client_secret"])
    if values.get("client_auth", "basic") == "basic":  # form-encoded first: RFC 6749 2.3.1
        headers["Authorization"] = basic(quote_plus(client_id), quote_plus(client_secret))
    else:
        form.update(client_id=client_id, client_secret=client_secret)
    return ClientCredentials(
        token_url=token_url or values["token_url"],
        form=form,
        headers=headers,
        send=send,
        note_secret=note_secret,
    )
