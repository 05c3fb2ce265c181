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

import base64
import binascii
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


def bearer(request: Request, token: str) -> bool:
    """Whether the request carries ``Authorization: Bearer <token>``."""
    return request.headers.get("authorization") == f"Bearer {token}"


def cursor_page(
    items: list[Any], cursor: str | None, size: int
) -> tuple[list[Any], str | None, int]:
    """One page of ``items`` after an opaque cursor, the cursor of the next page (None at the
    end) and where the page starts. Raises ValueError for a cursor no fake handed out."""
    start = 0
    if cursor:
        try:
            kind, _, offset = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError("not a cursor") from None
        if kind != "after" or not offset.isdigit():
            raise ValueError("not a cursor")
        start = int(offset)
    end = start + size
    following = base64.urlsafe_b64encode(f"after:{end}".encode()).decode()
    return items[start:end], following if end < len(items) else None, start


class Later:
    """Work a vendor accepted (``202 Accepted``) and does on its own clock: a test says when."""

    def __init__(self) -> None:
        self.waiting: list[Callable[[], None]] = []

    def add(self, work: Callable[[], None]) -> None:
        self.waiting.append(work)

    def run(self) -> int:
        """Do everything accepted so far; how many pieces of work that was."""
        done, self.waiting = self.waiting, []
        for work in done:
            work()
        return len(done)


@dataclass
class Job:
    """A job a vendor runs on its own clock, reported by a status endpoint: each look moves
    it one step along ``progress`` (the last step repeats); ``when_done`` runs once, the
    first time the job is seen at ``done``."""

    progress: list[str]
    done: str
    when_done: Callable[[], None] = lambda: None
    looks: int = 0
    finished: bool = False

    def status(self) -> str:
        status = self.progress[min(self.looks, len(self.progress) - 1)]
        self.looks += 1
        if status == self.done and not self.finished:
            self.finished = True
            self.when_done()
        return status


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


@contextmanager
def serving(
    populated: Callable[[], tuple[Fake, dict[str, Any]]], *, prefix: str = ""
) -> Iterator[VendorServer]:
    """A running server for a fake filled by ``populated()``, which also says who is who."""
    fake, people = populated()
    with VendorServer(fake, prefix=prefix, people=people) as server:
        yield server
