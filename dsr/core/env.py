"""Reading the environment for ``dsr.settings``: one parser per kind of value.

Each parser takes the raw string and returns the value or raises ``ValueError`` saying
what is wrong; ``read`` turns that into ``ImproperlyConfigured`` naming the variable, so
a bad setting stops the app at start-up with a message an operator can act on.
No Django settings are read here (settings are being built when this runs).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parents[2]


def read(name: str, parse: Callable[[str], Any], default: Any) -> Any:
    """Parse one variable, naming it in the error when its value is unusable."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except Exception as exc:  # any parse failure is a config error
        reason = " ".join(str(exc).split())
        raise ImproperlyConfigured(f"{name} has an unusable value: {reason}") from exc


def country(raw: str) -> str:
    import pycountry

    if raw and pycountry.countries.get(alpha_2=raw.upper()) is None:
        raise ValueError("not an ISO 3166 alpha-2 country code")
    return raw.upper()


def boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def whole_number(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be zero or a positive whole number")
    return value


def db_url(raw: str) -> dict[str, Any]:
    scheme = raw.split(":", 1)[0]
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ValueError(f"unsupported database scheme {scheme!r} (use postgres:// or sqlite://)")
    return environ.Env.db_url_config(raw)


def email_url(raw: str) -> dict[str, Any]:
    scheme = raw.split(":", 1)[0]
    if scheme not in environ.Env.EMAIL_SCHEMES:
        raise ValueError(f"unsupported email scheme {scheme!r}")
    config = environ.Env.email_url_config(raw)
    if scheme == "filemail":
        # filemail:///abs/dir is an absolute path; filemail://dir is relative to the project.
        rest = raw.split("://", 1)[1].split("?", 1)[0]
        config["EMAIL_FILE_PATH"] = rest if rest.startswith("/") else str(BASE_DIR / rest)
    return config


def redis_url(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected a redis:// or rediss:// URL")
    return raw


def hosts(raw: str) -> list[str]:
    hosts = [h.strip() for h in raw.split(",") if h.strip()]
    if not hosts:
        raise ValueError("expected a comma-separated list of host names")
    return hosts


def encryption_key(raw: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("expected 32 bytes, URL-safe base64 encoded") from exc
    if len(key) != 32:
        raise ValueError(f"expected 32 bytes, URL-safe base64 encoded; got {len(key)} bytes")
    return key


def kinds(raw: str) -> frozenset[str]:
    kinds = {k.strip() for k in raw.split(",") if k.strip()}
    unknown = kinds - {"access", "portability", "rectification", "erasure"}
    if unknown:
        raise ValueError(f"unknown request kinds: {', '.join(sorted(unknown))}")
    return frozenset(kinds)


def brand_colour(raw: str) -> str:
    from dsr.core.branding import readable_text_on

    value = raw.strip().lower()
    if not re.fullmatch(r"#[0-9a-f]{6}", value):
        raise ValueError("expected a colour as #rrggbb, e.g. #0b5cad")
    readable_text_on(value)  # raises ValueError naming the contrast when no text colour is readable on it
    return value


def local_secret(var_dir: Path, filename: str, make: Callable[[], str]) -> str:
    """A secret kept in var/ for a developer machine that set none in the environment."""
    path = var_dir / filename
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def release_kinds(raw: str) -> frozenset[str]:
    chosen = kinds(raw)
    if chosen - {"access", "portability"}:
        raise ValueError("only access and portability have results to release")
    return chosen
