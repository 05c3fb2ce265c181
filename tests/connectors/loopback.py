"""A real HTTP server on 127.0.0.1, in a thread, for tests that play a remote system
(a webhook receiver, a SaaS vendor): the lifecycle and the writing of answers, once."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        #: seconds to sleep before answering, to provoke timeouts
        self.delay = 0.0
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # a handler still sleeping must not hold up close()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def wait(self) -> bool:
        """Sleep ``delay`` seconds; True when the server closes meanwhile (do not answer)."""
        return bool(self.delay) and self._stopping.wait(self.delay)

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    data: bytes,
    content_type: str | None,
    headers: dict[str, str] | None = None,
) -> None:
    try:
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except OSError:
        pass  # the client gave up (timeout tests)
