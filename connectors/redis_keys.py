"""Keys in a Redis database that belong to one person, found by key patterns.

Config::

    {"patterns": [{"pattern": "session:{email}", "category": "sessions"},
                  {"pattern": "cart:{customer_id}:*", "category": "carts"}],
     "scan_count": 500}

``{kind}`` takes the subject's identifier of that kind, with Redis glob specials
escaped so a value such as ``*`` cannot widen the match to other people's keys.
A pattern naming a kind the subject lacks is skipped. The template is itself a
Redis glob: without an unescaped ``*``, ``?`` or ``[`` it names one exact key
(EXISTS); otherwise keys are found with SCAN MATCH — never KEYS, which blocks
the server while it walks the whole keyspace.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import redis

from .base import (
    Action,
    Connector,
    ConnectorError,
    JobContext,
    LocateResult,
    Receipt,
    Record,
    Subject,
)

PLACEHOLDER = re.compile(r"\{(\w+)\}")
GLOB_SPECIALS = re.compile(r"([*?\[\]\\])")
UNESCAPED_GLOB = re.compile(r"(?<!\\)(?:\\\\)*[*?\[]")
DELETE_BATCH = 500


def escape_glob(value: str) -> str:
    return GLOB_SPECIALS.sub(r"\\\1", value)


def _text(value: Any) -> Any:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


class RedisConnector(Connector):
    key = "redis"
    actions = frozenset({Action.LOCATE, Action.EXPORT, Action.ERASE})

    _client: redis.Redis | None = None

    def validate(self) -> None:
        if not self.secrets.get("url"):
            raise self.config_error("secrets.url is required (e.g. redis://host:6379/0)")
        patterns = self.config.get("patterns")
        if not isinstance(patterns, list) or not patterns:
            raise self.config_error("patterns must be a non-empty list of {pattern, category}")
        for index, spec in enumerate(patterns):
            pattern = spec.get("pattern") if isinstance(spec, dict) else None
            if not isinstance(pattern, str) or not pattern:
                raise self.config_error(f"patterns[{index}] needs a 'pattern' string")
            if not isinstance(spec.get("category", "keys"), str):
                raise self.config_error(f"patterns[{index}].category must be a string")
            if "{" in PLACEHOLDER.sub("", pattern) or "}" in PLACEHOLDER.sub("", pattern):
                raise self.config_error(
                    f"patterns[{index}] {pattern!r}: placeholders are {{kind}} of word characters"
                )
        count = self.config.get("scan_count", 500)
        if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
            raise self.config_error("scan_count must be a positive whole number")

    # -- connection ---------------------------------------------------------------
    @property
    def where(self) -> str:
        """``host:port/db`` for messages; the URL may hold a password."""
        try:
            parts = urlsplit(self.secrets["url"])
            if parts.hostname:
                return f"{parts.hostname}:{parts.port or 6379}{parts.path}"
        except ValueError:
            return "?"
        return parts.path or "?"

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            try:
                self._client = redis.Redis.from_url(
                    self.secrets["url"], socket_connect_timeout=5, socket_timeout=30
                )
            except ValueError as exc:
                raise self.config_error(f"unusable Redis URL: {exc}") from exc
        return self._client

    def _fail(self, exc: redis.RedisError) -> ConnectorError:
        """Refused credentials and permissions will not heal by retrying; outages may."""
        name = type(exc).__name__
        if isinstance(exc, (redis.AuthenticationError, redis.exceptions.NoPermissionError)):
            return self.config_error(f"Redis at {self.where} refused us: {name}: {exc}")
        if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
            return ConnectorError(f"cannot reach Redis at {self.where}: {name}: {exc}")
        return ConnectorError(f"Redis at {self.where} failed: {name}: {exc}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- finding keys -------------------------------------------------------------
    def _globs(self, subject: Subject) -> Iterator[tuple[str, str]]:
        """(glob, category) for every pattern whose kinds the subject has."""
        for spec in self.config["patterns"]:
            kinds = PLACEHOLDER.findall(spec["pattern"])
            if any(subject.get(kind) is None for kind in kinds):
                continue
            glob = PLACEHOLDER.sub(
                lambda m: escape_glob(subject.get(m.group(1)) or ""), spec["pattern"]
            )
            yield glob, spec.get("category", "keys")

    def _keys(self, subject: Subject) -> Iterator[tuple[bytes, str]]:
        """Each matching key once, with the category of the first pattern that found it."""
        seen: set[bytes] = set()
        count = self.config.get("scan_count", 500)
        try:
            for glob, category in self._globs(subject):
                if UNESCAPED_GLOB.search(glob):
                    found: Iterator[bytes] = self.client.scan_iter(match=glob, count=count)
                else:
                    exact = re.sub(r"\\(.)", r"\1", glob).encode()
                    found = iter([exact] if self.client.exists(exact) else [])
                for key in found:
                    if key not in seen:
                        seen.add(key)
                        yield key, category
        except redis.RedisError as exc:
            raise self._fail(exc) from exc

    def _value(self, key: bytes, kind: str) -> Any:
        c: Any = self.client  # redis-py's annotations mix in the async and None cases
        if kind == "string":
            return _text(c.get(key))
        if kind == "hash":
            return {_text(k): _text(v) for k, v in c.hgetall(key).items()}
        if kind == "list":
            return [_text(v) for v in c.lrange(key, 0, -1)]
        if kind == "set":
            return sorted(_text(v) for v in c.smembers(key))
        if kind == "zset":
            return [[_text(m), score] for m, score in c.zrange(key, 0, -1, withscores=True)]
        if kind == "stream":
            return [
                {"id": _text(entry), "fields": {_text(k): _text(v) for k, v in fields.items()}}
                for entry, fields in c.xrange(key)
            ]
        return None  # module types: reported by type, value not readable generically

    # -- actions ------------------------------------------------------------------
    def check(self) -> None:
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise self._fail(exc) from exc

    def locate(self, subject: Subject, *, job: JobContext | None = None) -> LocateResult:
        result = LocateResult()
        for _key, category in self._keys(subject):
            result.found += 1
            result.by_category[category] = result.by_category.get(category, 0) + 1
        return result

    def export(self, subject: Subject, *, job: JobContext | None = None) -> Iterator[Record]:
        for key, category in self._keys(subject):
            try:
                kind = _text(self.client.type(key))
                if kind == "none":
                    continue  # expired or deleted since it was found
                value = self._value(key, kind)
            except redis.RedisError as exc:
                raise self._fail(exc) from exc
            yield Record(self.name, category, {"key": _text(key), "type": kind, "value": value})

    def erase(self, subject: Subject, *, job: JobContext | None = None) -> Receipt:
        receipt = Receipt(action=Action.ERASE, detail={"mode": "delete"})
        batch: list[tuple[bytes, str]] = []
        for item in self._keys(subject):
            batch.append(item)
            if len(batch) >= DELETE_BATCH:
                self._delete(batch, receipt)
                batch = []
        self._delete(batch, receipt)
        return receipt

    def _delete(self, batch: list[tuple[bytes, str]], receipt: Receipt) -> None:
        """UNLINK (freed in the background) and count only keys that were really removed."""
        if not batch:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, _category in batch:
                pipe.unlink(key)
            removed = pipe.execute()
        except redis.RedisError as exc:
            raise self._fail(exc) from exc
        for (_key, category), gone in zip(batch, removed, strict=True):
            if gone:
                receipt.affected += 1
                receipt.by_category[category] = receipt.by_category.get(category, 0) + 1
