"""One vendor's HTTP client: joins paths to the base URL, authenticates, waits out short
rate limits, and turns every other failure into a ``ConnectorError`` the engine can act on.

- 2xx: the answer. A status the step expects (``not_found``, ``gone``): ``None``.
- 401 with a token that can be renewed (OAuth): renewed once and asked again.
- 429: a ``Retry-After`` of at most ``retry_after_max`` seconds is waited out (a
  few times at most); a longer one is a transient error saying when to come back.
- 408, 425, 5xx, timeouts and network errors: transient (retried by the engine).
- any other 4xx (and a redirect, which is never followed): permanent, with the
  vendor's own message from its documented error body.

Messages name the template's path (``GET /v1/customers/{{ customer.id }}``), never
the rendered one: a rendered path or query holds the person's identifiers. What the
vendor says is passed through :func:`scrub` at the connector's edge.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

from .. import http
from ..base import ConnectorError
from .auth import Auth
from .expressions import lookup
from .paging import Answer, Call

log = logging.getLogger(__name__)

#: How many times one request waits out a 429 before giving the job back to the engine.
MAX_WAITS = 3
_TRANSIENT = frozenset({408, 425, 429})


class RateLimited(ConnectorError):
    """A 429 too long to wait out here; ``retry_after`` is the vendor's wait, if it gave one."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def scrub(text: str, values: Iterable[str]) -> str:
    """``text`` without any of ``values`` (as written, or URL-encoded), whatever their case."""
    variants: set[str] = set()
    for value in values:
        if len(value) >= 3:
            variants.update({value, quote(value, safe=""), quote_plus(value), quote(value)})
    for variant in sorted(variants, key=len, reverse=True):
        text = re.sub(re.escape(variant), "[redacted]", text, flags=re.IGNORECASE)
    return text


def retry_after(header: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not header:
        return None
    header = header.strip()
    if re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,6})?", header):  # seconds; Shopify sends "2.0"
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class VendorClient:
    def __init__(
        self,
        *,
        label: str,
        base_url: str,
        timeout: float,
        concurrency: int,
        retry_after_max: float,
        error_paths: tuple[str, ...],
    ) -> None:
        self.label = label
        self.base_url = base_url.rstrip("/")
        self.auth: Auth | None = None
        self._origin = _origin(httpx.URL(base_url))
        self._host = http.host_of(base_url)
        self._timeout = timeout
        self._retry_after_max = retry_after_max
        self._error_paths = error_paths
        self._slots = threading.BoundedSemaphore(concurrency)
        self._http = http.new_client(timeout)

    def close(self) -> None:
        self._http.close()

    def send(
        self, call: Call, *, accept: Iterable[int] = (), authenticate: bool = True
    ) -> Answer | None:
        """The answer to ``call``; None when its status is one of ``accept``."""
        accept = frozenset(accept)
        renewed = waits = 0
        while True:
            request = self._request(call)
            if authenticate and self.auth is not None:
                self.auth.apply(request)
            with self._slots, http.reaching(self._host, self._timeout):
                response = self._http.send(request)
                body = http.json_of(response)
            status = response.status_code
            log.debug("%s: %s answered %d", self.label, call.what, status)
            if 200 <= status < 300:
                links = {rel: link["url"] for rel, link in response.links.items() if "url" in link}
                return Answer(status, body, links)
            if status in accept:
                return None
            if status == 401 and authenticate and not renewed and self.auth and self.auth.refresh():
                renewed += 1
                continue
            if status == 429:
                delay = retry_after(response.headers.get("Retry-After"))
                if delay is not None and delay <= self._retry_after_max and waits < MAX_WAITS:
                    waits += 1
                    time.sleep(delay)
                    continue
                raise RateLimited(
                    f"{self._where(call)} answered 429 (rate limited); {_when(delay)}", delay
                )
            raise self._error(call, status, body)

    def _request(self, call: Call) -> httpx.Request:
        if call.target.startswith("/"):
            url = httpx.URL(self.base_url + call.target)
        else:
            url = httpx.URL(call.target)
            if _origin(url) != self._origin and not call.elsewhere:
                raise ConnectorError(
                    f"{self._where(call)}: the vendor pointed to another host; not followed",
                    permanent=True,
                )
        return self._http.build_request(
            call.method,
            url,
            params=dict(call.query) or None,
            json=call.json,
            data=dict(call.form) if call.form is not None else None,
            headers=dict(call.headers),
        )

    def _where(self, call: Call) -> str:
        return f"{self.label}: {call.what}"

    def said(self, body: Any) -> str:
        """What the vendor's answer says went wrong, from the template's ``error_message``."""
        said = next(
            (text for path in self._error_paths if isinstance(text := lookup(body, path), str)),
            "",
        )
        return " ".join(said.split())[:300]

    def _error(self, call: Call, status: int, body: Any) -> ConnectorError:
        said = self.said(body)
        message = f"{self._where(call)} answered {status}" + (f": {said}" if said else "")
        if status in (401, 403):
            message += " (check the system's secrets and the permissions they grant)"
        elif 300 <= status < 400:
            message += " (a redirect; redirects are not followed)"
        return ConnectorError(message, permanent=not (status in _TRANSIENT or status >= 500))


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _when(delay: float | None) -> str:
    if delay is None:
        return "the vendor did not say when to try again"
    at = datetime.now(UTC) + timedelta(seconds=delay)
    return f"the vendor asks to wait {delay:.0f} s (until {at:%Y-%m-%d %H:%M:%S} UTC)"
