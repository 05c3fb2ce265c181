"""All outbound HTTP of the connectors goes through here (like healthchecks' ``hc/lib/curl``).

One place decides timeouts, TLS, redirects and headers, and turns network failures
into ``ConnectorError(permanent=False)``. ``post_json`` does not retry: the engine
owns retries and their backoff, and a helper that retried too would multiply them.

The body is serialised once and those exact bytes are both signed and sent, so a
receiver verifying the signature over the raw body always agrees with us.
Error messages name the host, never the body: the body holds personal data and
error messages end up in logs and the audit trail. For the same reason httpx's own
request log is cut down to the host: its full URLs would carry the e-mail addresses
the SaaS connector looks people up by.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import ssl
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from .base import ConnectorError
from .signing import SIGNATURE_HEADER, sign

USER_AGENT = "dsr-handler"

#: Tests may set an ``httpx`` transport here (e.g. ``httpx.MockTransport``); real
#: servers on 127.0.0.1 are preferred, so it stays ``None`` in the suite.
TRANSPORT: httpx.BaseTransport | None = None


class _HostOnly(logging.Filter):
    """httpx logs every request's full URL at INFO; ours hold e-mail addresses. Keep the host."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 1 and isinstance(args[1], httpx.URL):
            record.args = (args[0], host_of(str(args[1])), *args[2:])
        return True


logging.getLogger("httpx").addFilter(_HostOnly())


@dataclass(frozen=True)
class Response:
    """What a caller needs from an answer: status, the parsed JSON (or None), the text."""

    status_code: int
    json: Any
    text: str


@functools.cache
def _tls() -> ssl.SSLContext:
    """One verifying TLS context per process, as httpx builds it by default.

    Building one loads the CA bundle, which costs far more than the call itself
    (tens of milliseconds), so it is not done again for every POST.
    """
    return httpx.create_ssl_context()


def host_of(url: str) -> str:
    """``host[:port]`` without credentials, for messages that end up in logs."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def _default(value: Any) -> Any:
    """The JSON forms of the few non-JSON values a payload may carry (dates, Decimal...)."""
    if isinstance(value, (datetime, date, dtime)):
        return value.isoformat()
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    secret: str | None,
    timeout: float = 10,
    headers: dict[str, str] | None = None,
) -> Response:
    """POST ``payload`` as JSON; any answer is returned, only transport failures raise."""
    body = encode(payload)
    sent_headers = {
        **(headers or {}),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    if secret:
        sent_headers[SIGNATURE_HEADER] = sign(secret, int(time.time()), body)
    with new_client(timeout) as client, reaching(host_of(url), timeout):
        answer = client.post(url, content=body, headers=sent_headers)
    return Response(status_code=answer.status_code, json=json_of(answer), text=answer.text)


def new_client(timeout: float) -> httpx.Client:
    """A client with our defaults: verifying TLS, no redirects, our User-Agent.

    A redirect is never followed: it would re-send personal data somewhere unconfigured.
    """
    return httpx.Client(
        timeout=httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout),
        transport=TRANSPORT,
        verify=_tls(),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


@contextmanager
def reaching(host: str, timeout: float) -> Iterator[None]:
    """Turn transport failures into ``ConnectorError``: retried, unless the URL is unusable.

    Messages name the host only; the URL may hold personal data.
    """
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ConnectorError(
            f"{host} did not answer within {timeout:g}s ({type(exc).__name__})"
        ) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise ConnectorError(f"unusable URL for {host}: {type(exc).__name__}", permanent=True) from exc
    except httpx.HTTPError as exc:
        raise ConnectorError(f"cannot reach {host}: {type(exc).__name__}: {exc}") from exc


def json_of(answer: httpx.Response) -> Any:
    """The parsed JSON body, or None when there is none."""
    try:
        return answer.json()
    except ValueError:
        return None
