"""`manage.py check --deploy` with production settings, and the HTTPS settings behind it.

Each test starts Django in a fresh process with an environment built from nothing, as an
operator's would be: the settings module reads the environment once, at import.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "production-secret-key-" + "x" * 40
ENCRYPTION_KEY = base64.urlsafe_b64encode(b"e" * 32).decode()


def production(tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    """A production-like environment; ``NAME=None`` leaves a variable out."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DSR_VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "DSR_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "ALLOWED_HOSTS": "privacy.example.org",
        "CSRF_TRUSTED_ORIGINS": "https://privacy.example.org",
        # Never connected to: the checks below read settings, they do not reach services.
        "DATABASE_URL": "postgres://dsr:secret@db.invalid:5432/dsr",
        "REDIS_URL": "redis://redis.invalid:6379/0",
        "EMAIL_URL": "smtp+tls://dsr:secret@mail.invalid:587",
        "DSR_PUBLIC_URL": "https://privacy.example.org",
        **overrides,
    }
    return {key: value for key, value in env.items() if value is not None}


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )


def setting(env: dict[str, str], *names: str) -> list[str]:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        f"print('\\n'.join(repr(getattr(settings, n, None)) for n in {names!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "dsr.settings"},
        capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\n")[: len(names)]


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = manage(production(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output
    assert "WARNING" not in output and "ERROR" not in output
    # The keys came from the environment: no developer keys were made.
    assert not (tmp_path / "var" / "secret_key").exists()
    assert not (tmp_path / "var" / "encryption_key").exists()


@pytest.mark.parametrize(
    ("missing", "expected", "absent"),
    [
        (("SECRET_KEY",), {"dsr.E001"}, {"dsr.E002"}),
        (("DSR_ENCRYPTION_KEY",), {"dsr.E002"}, {"dsr.E001"}),
        (("SECRET_KEY", "DSR_ENCRYPTION_KEY"), {"dsr.E001", "dsr.E002"}, set()),
    ],
)
def test_check_deploy_refuses_developer_keys(tmp_path, missing, expected, absent):
    env = production(tmp_path, **{name: None for name in missing})
    result = manage(env, "check", "--deploy")
    assert result.returncode != 0
    for check_id in expected:
        assert check_id in result.stderr
    for check_id in absent:
        assert check_id not in result.stderr
    # The developer key it fell back to was generated in var/, as on a laptop.
    if "SECRET_KEY" in missing:
        assert (tmp_path / "var" / "secret_key").exists()


def test_check_deploy_warns_when_https_is_switched_off(tmp_path):
    """Plain HTTP is allowed (a local compose stack) but never passes the deployment check."""
    env = production(tmp_path, SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    for check_id in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check_id in result.stderr


def test_production_defaults_are_https_only(tmp_path):
    names = (
        "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER",
    )
    assert setting(production(tmp_path, DSR_TRUSTED_PROXIES="1"), *names) == [
        "True", "True", "True", "31536000", "True", "True", "('HTTP_X_FORWARDED_PROTO', 'https')",
    ]


def test_x_forwarded_proto_is_believed_only_behind_a_trusted_proxy(tmp_path):
    """Without a proxy that sets it, any client could write X-Forwarded-Proto: https."""
    assert setting(production(tmp_path), "SECURE_PROXY_SSL_HEADER") == ["None"]
    assert setting(production(tmp_path, DSR_TRUSTED_PROXIES="0"), "SECURE_PROXY_SSL_HEADER") == ["None"]
    assert setting(production(tmp_path, DSR_TRUSTED_PROXIES="2"), "SECURE_PROXY_SSL_HEADER") == [
        "('HTTP_X_FORWARDED_PROTO', 'https')"
    ]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # Behind a proxy that ends TLS and redirects itself: no redirect here, cookies still Secure.
        ({"SECURE_SSL_REDIRECT": "false", "SECURE_COOKIES": "true"}, ["False", "True", "True"]),
        # Plain HTTP on a local machine: cookies follow the redirect switch.
        ({"SECURE_SSL_REDIRECT": "false"}, ["False", "False", "False"]),
    ],
)
def test_redirect_and_secure_cookies_are_separate_switches(tmp_path, env, expected):
    names = ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")
    assert setting(production(tmp_path, **env), *names) == expected


def test_hsts_is_configurable(tmp_path):
    env = production(
        tmp_path, SECURE_HSTS_SECONDS="600", SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
        SECURE_HSTS_PRELOAD="no",
    )
    names = ("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD")
    assert setting(env, *names) == ["600", "False", "False"]


def test_make_run_stays_on_plain_http(tmp_path):
    """DEBUG (make run) on http://localhost:8000: no redirect, no Secure cookies, no HSTS."""
    env = production(tmp_path, DEBUG="true", SECRET_KEY=None, DSR_ENCRYPTION_KEY=None,
                     ALLOWED_HOSTS=None, DATABASE_URL=None, REDIS_URL=None, EMAIL_URL=None)
    names = ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS")
    assert setting(env, *names) == ["False", "False", "False", "0"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SECURE_HSTS_SECONDS", "-1"), ("SECURE_HSTS_SECONDS", "a year"), ("SECURE_COOKIES", "maybe"),
     ("SECURE_HSTS_PRELOAD", "sure"), ("SECURE_SSL_REDIRECT", "2")],
)
def test_a_bad_security_value_stops_start_up_naming_it(tmp_path, variable, value):
    result = manage(production(tmp_path, **{variable: value}), "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.strip().splitlines()[-1]
