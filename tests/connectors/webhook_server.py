"""A real HTTP server on 127.0.0.1 that plays a webhook system in tests.

It checks every request's signature with ``connectors.signing.verify`` (the same
code a real receiver would use) and answers 401 when it fails, so every test
that gets past the 401 also proves our signatures verify. Answers come from a
script: a queue of ``(status, body)`` or a callable taking the :class:`Received`
request; ``delay`` makes it sleep before answering, to provoke timeouts.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from connectors.signing import SIGNATURE_HEADER, SignatureError, verify

from .loopback import LoopbackServer, reply

Answer = tuple[int, Any]  # body: dict/list → JSON, str/bytes → as is, None → empty


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    raw: bytes
    body: Any  # parsed JSON, or None
    signature_error: str | None


class WebhookServer(LoopbackServer):
    def __init__(self, secret: str, *, default: Answer = (200, {"status": "completed"})) -> None:
        self.secret = secret
        self.default = default
        self.script: deque[Answer] = deque()
        self.responder: Callable[[Received], Answer] | None = None
        self.received: list[Received] = []
        super().__init__(self._handler())

    @property
    def url(self) -> str:
        return f"{self.origin}/dsr"

    def answer(self, *answers: Answer) -> None:
        """Queue answers, used in order; then the default answer."""
        self.script.extend(answers)

    @property
    def last(self) -> Received:
        assert self.received, "the server received nothing"
        return self.received[-1]

    def _respond(self, request: Received) -> Answer:
        if request.signature_error:
            return 401, {"error": request.signature_error}
        if self.responder is not None:
            return self.responder(request)
        return self.script.popleft() if self.script else self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the stdlib's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    verify(server.secret, self.headers.get(SIGNATURE_HEADER), raw)
                    error = None
                except SignatureError as exc:
                    error = str(exc)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                request = Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, raw, body, error
                )
                server.received.append(request)
                status, answer = server._respond(request)
                if server.wait():
                    return
                if isinstance(answer, (dict, list)):
                    data, kind = json.dumps(answer).encode(), "application/json"
                elif answer is None:
                    data, kind = b"", "text/plain"
                else:
                    data = answer if isinstance(answer, bytes) else str(answer).encode()
                    kind = "text/html"
                reply(self, status, data, kind)

            def log_message(self, format: str, *args: Iterable[Any]) -> None:
                pass  # keep pytest output clean

        return Handler
