"""All outbound HTTP of the connectors goes through here (like healthchecks' ``hc/lib/curl``).

One place decides timeouts, headers and signing, and turns network failures into
``ConnectorError(permanent=False)``. It does not retry: the engine owns retries
and their backoff, and a helper that retried too would multiply them.

The body is serialised once and those exact bytes are both signed and sent, so a
receiver verifying the signature over the raw body always agrees with us.
Error messages name the host, never the body: the body holds personal data and
error messages end up in logs and the audit trail.
"""

from __future__ import annotations

import base64
import functools
import json
import ssl
import time
import uuid
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
    host = host_of(url)
    try:
        with httpx.Client(
            timeout=httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout),
            transport=TRANSPORT,
            verify=_tls(),
            follow_redirects=False,  # a redirect would re-send personal data somewhere unconfigured
        ) as client:
            answer = client.post(url, content=body, headers=sent_headers)
    except httpx.TimeoutException as exc:
        raise ConnectorError(
            f"{host} did not answer within {timeout:g}s ({type(exc).__name__})"
        ) from exc
    except httpx.InvalidURL as exc:
        raise ConnectorError(f"unusable URL for {host}: {exc}", permanent=True) from exc
    except httpx.HTTPError as exc:
        raise ConnectorError(f"cannot reach {host}: {type(exc).__name__}: {exc}") from exc
    try:
        parsed = answer.json()
    except ValueError:
        parsed = None
    return Response(status_code=answer.status_code, json=parsed, text=answer.text)
