"""Real HTTP servers on 127.0.0.1 that play SaaS vendors in tests.

A fake vendor is a :class:`Fake` subclass: its data, an ``authorize`` that answers a
wrong credential with the vendor's documented 401 body, and ``@route`` methods that
answer each documented endpoint with the vendor's documented shapes. :class:`VendorServer`
serves a fake under an optional path prefix (as behind a proxy, or Mailchimp's ``/3.0``),
records every request (and the most it answered at once), and lets a test put
``faults`` in front of the fake (a 429, a 500, a slow answer) to see what the connector
does with them.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from connectors.base import Deferred, JobContext

from ..loopback import LoopbackServer, reply

Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]


@dataclass
class Request:
    method: str
    path: str  # without the server's prefix, percent-decoded
    raw_path: str  # as sent, prefix and query included
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


def route(method: str, pattern: str) -> Callable[[Callable[..., Reply]], Callable[..., Reply]]:
    """Mark a :class:`Fake` method as the answer to ``method`` on paths matching ``pattern``."""

    def mark(handler: Callable[..., Reply]) -> Callable[..., Reply]:
        handler.route = (method, re.compile(pattern + r"\Z"))  # type: ignore[attr-defined]
        return handler

    return mark


class Fake:
    """A vendor: ``authorize`` then the first matching ``@route`` method answers."""

    def authorize(self, request: Request) -> Reply | None:
        """None when the credentials are right, else the vendor's 401."""
        return None

    def missing(self, request: Request) -> Reply:
        return 404, {"error": "no such endpoint in this fake"}

    def handle(self, request: Request) -> Reply:
        refused = self.authorize(request)
        if refused is not None:
            return refused
        for name in dir(type(self)):
            handler = getattr(self, name)
            method_pattern = getattr(handler, "route", None)
            if method_pattern and method_pattern[0] == request.method:
                found = method_pattern[1].match(request.path)
                if found:
                    return handler(request, *found.groups())
        return self.missing(request)


def page_size(request: Request, name: str, *, default: int, maximum: int) -> int | Reply:
    """The page size asked for, or the 400 a vendor gives for one out of range."""
    size = int(request.arg(name, str(default)))
    if not 1 <= size <= maximum:
        return 400, {"error": f"{name} must be between 1 and {maximum}"}
    return size


class Tokens:
    """The access tokens a fake's OAuth token endpoint issued, and which are still good."""

    def __init__(self, prefix: str = "tok-") -> None:
        self.prefix = prefix
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self._serial = itertools.count(1)

    def issue(self) -> str:
        token = f"{self.prefix}{next(self._serial)}"
        self.issued.append(token)
        self.valid.add(token)
        return token

    def bearer(self, request: Request) -> bool:
        """Whether the request carries ``Authorization: Bearer <a good token>``."""
        given = request.headers.get("authorization", "")
        return given.startswith("Bearer ") and given.removeprefix("Bearer ") in self.valid


class VendorServer(LoopbackServer):
    def __init__(
        self, fake: Fake, *, prefix: str = "", people: dict[str, Any] | None = None
    ) -> None:
        self.fake = fake
        self.prefix = prefix.rstrip("/")
        #: who is who in the fake's data (ids by name), for the tests' assertions
        self.people = people or {}
        self.requests: list[Request] = []
        #: each fault is asked first; the first to answer (not None) replaces the fake's answer
        self.faults: deque[Callable[[Request], Reply | None]] = deque()
        self.in_flight = self.most_in_flight = 0
        self._counting = threading.Lock()
        super().__init__(self._handler())

    @property
    def url(self) -> str:
        return self.origin + self.prefix

    def calls(self, method: str, pattern: str) -> list[Request]:
        """The requests received for ``method`` on paths matching ``pattern``."""
        matcher = re.compile(pattern + r"\Z")
        return [r for r in self.requests if r.method == method and matcher.match(r.path)]

    def fail_once(self, reply: Reply, *, when: Callable[[Request], bool] = lambda r: True) -> None:
        """Answer the next request for which ``when`` holds with ``reply`` instead."""

        def fault(request: Request) -> Reply | None:
            if when(request):
                self.faults.remove(fault)
                return reply
            return None

        self.faults.append(fault)

    def _answer(self, request: Request) -> Reply:
        for fault in list(self.faults):
            reply = fault(request)
            if reply is not None:
                return reply
        return self.fake.handle(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                parts = urlsplit(self.path)
                path = unquote(parts.path)
                if not path.startswith(server.prefix + "/"):
                    self._send(404, {"error": "outside the server's prefix"}, {})
                    return
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                kind = self.headers.get("Content-Type", "")
                request = Request(
                    method=self.command,
                    path=path[len(server.prefix) :],
                    raw_path=self.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=raw,
                )
                if raw and "json" in kind:
                    request.json = json.loads(raw)
                elif raw and "x-www-form-urlencoded" in kind:
                    request.form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                server.requests.append(request)
                with server._counting:
                    server.in_flight += 1
                    server.most_in_flight = max(server.most_in_flight, server.in_flight)
                try:
                    answer = server._answer(request)
                    if server.wait():
                        return
                    status, body, *rest = answer
                    self._send(status, body, rest[0] if rest else {})
                finally:
                    with server._counting:
                        server.in_flight -= 1

            def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                reply(self, status, data, "application/json" if body is not None else None, headers)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

            def log_message(self, format: str, *args: Iterable[Any]) -> None:
                pass

        return Handler


def erase_again(
    connector: Any, subject: Any, server: VendorServer, method: str, pattern: str
) -> tuple[Any, int]:
    """Erase ``subject`` twice; the second receipt, and how many more ``method`` requests on
    paths matching ``pattern`` the second erasure sent."""
    connector.erase(subject)
    before = len(server.calls(method, pattern))
    receipt = connector.erase(subject)
    return receipt, len(server.calls(method, pattern)) - before


def erase_until_done(connector: Any, subject: Any, *, calls: int = 10) -> tuple[Any, list[Any]]:
    """What the engine does with a deletion that finishes later: call ``erase`` again with the
    state of the last ``Deferred`` (kept as JSON), until a receipt comes back; the receipt and
    the deferrals on the way."""
    state: dict[str, Any] = {}
    deferrals = []
    for _ in range(calls):
        try:
            return connector.erase(
                subject, job=JobContext("job-1", "idem-1", state=state)
            ), deferrals
        except Deferred as waiting:
            deferrals.append(waiting)
            state = json.loads(json.dumps(waiting.state))
    raise AssertionError("still deferred")


@contextmanager
def serving(
    populated: Callable[[], tuple[Fake, dict[str, Any]]], *, prefix: str = ""
) -> Iterator[VendorServer]:
    """A running server for a fake filled by ``populated()``, which also says who is who."""
    fake, people = populated()
    with VendorServer(fake, prefix=prefix, people=people) as server:
        yield server
