"""The gunicorn worker the web runs (named in gunicorn.conf.py): gthread, with read deadlines.

gunicorn's threaded worker gives a connection a thread as soon as its first byte
arrives, and that thread then blocks until the request line, the headers and the
body the application reads have all come in. gunicorn bounds none of that in time:
a client sending one byte every few seconds holds a thread for as long as it likes,
and a few such clients hold them all, so the site stops answering.

This worker gives every request two deadlines, counted from when a thread takes
the connection: one for the request line and headers, one (from the end of the
headers) for the body. When a deadline passes, the connection's reading side is
shut down: the blocked read returns at once as if the client had hung up, the
thread is free again, and a body cut short reaches the application as a short
body (a 400 from the parsers, never a 500). Writing a response is not limited.

That bounds what each slow client costs; it does not make slow clients free. In
production nginx buffers headers and bodies in front of gunicorn (deploy/), and
gunicorn only ever sees whole requests.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from typing import Any

from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

from dsr.core.logs import withhold_path_tokens


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw.strip() else default
    except ValueError as error:
        raise SystemExit(f"{name} must be a number of seconds, not {raw!r}") from error
    if value <= 0:
        raise SystemExit(f"{name} must be more than 0 seconds, not {raw!r}")
    return value


class Deadlines:
    """Shuts down the reading side of a connection whose deadline has passed.

    One timer thread per worker process, keeping a heap of (deadline, key); arming a
    connection again replaces its deadline, disarming forgets it.
    """

    def __init__(self) -> None:
        self._armed: dict[Any, tuple[float, int]] = {}
        self._heap: list[tuple[float, int, Any]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="read-deadlines", daemon=True)
        self._thread.start()

    def arm(self, conn: Any, seconds: float) -> None:
        entry = (time.monotonic() + seconds, next(self._order))
        with self._wake:
            self._armed[conn] = entry
            heapq.heappush(self._heap, (*entry, conn))
            if self._heap[0][1] == entry[1]:
                self._wake.notify()

    def disarm(self, conn: Any) -> None:
        with self._wake:
            self._armed.pop(conn, None)

    def _run(self) -> None:
        while True:
            with self._wake:
                now = time.monotonic()
                expired = []
                while self._heap and self._heap[0][0] <= now:
                    when, order, conn = heapq.heappop(self._heap)
                    if self._armed.get(conn) == (when, order):
                        del self._armed[conn]
                        expired.append(conn)
                if not expired:
                    self._wake.wait(self._heap[0][0] - now if self._heap else None)
            for conn in expired:
                try:
                    conn.sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass  # closed meanwhile


class DeadlineThreadWorker(ThreadWorker):
    """gunicorn's gthread worker, with a deadline for a request's headers and one for its body."""

    def init_process(self) -> None:
        self.header_timeout = _seconds("GUNICORN_HEADER_TIMEOUT", 10)
        self.body_timeout = _seconds("GUNICORN_BODY_TIMEOUT", 60)
        self.deadlines = Deadlines()
        super().init_process()

    def handle(self, conn: Any) -> Any:
        self.deadlines.arm(conn, self.header_timeout)
        try:
            return super().handle(conn)
        finally:
            self.deadlines.disarm(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        # The headers are in; the body, read by the application, gets its own time.
        self.deadlines.arm(conn, self.body_timeout)
        return super().handle_request(req, conn)


class TokenFreeLogger(Logger):
    """gunicorn's logger, with the tokens taken out of the paths its access log writes
    (%(U)s, and %(r)s without its query string)."""

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        path = withhold_path_tokens(environ.get("PATH_INFO") or "")
        atoms["U"] = path
        atoms["r"] = f"{environ.get('REQUEST_METHOD')} {path} {environ.get('SERVER_PROTOCOL')}"
        return atoms
