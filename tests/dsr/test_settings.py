"""Start-up refuses a bad environment, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start(tmp_path, **env):
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL"}
    }
    environ.update({"DSR_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "dsr.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "oracle-ish://nowhere"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("CELERY_BROKER_URL", "carrier-pigeon://loft"),
        ("EMAIL_URL", "fax://0123"),
        ("DSR_ENCRYPTION_KEY", "too-short"),
        ("SECRET_KEY", "short"),
        ("DEBUG", "perhaps"),
        ("ALLOWED_HOSTS", " , "),
        ("DSR_CODE_TTL_MINUTES", "-5"),
        ("DSR_DEFAULT_REGIME", "wild_west"),
        ("DSR_AUTO_RELEASE_KINDS", "access,erasure"),  # an erasure has no results to release
        ("DSR_MAX_UPLOAD_BYTES", "0"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path, variable, value):
    result = start(tmp_path, **{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.splitlines()[-1]


def test_defaults_need_no_environment_at_all(tmp_path):
    result = start(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"
    # Developer keys are generated once, private to the owner, and reused.
    key_file = tmp_path / "encryption_key"
    assert key_file.exists() and oct(key_file.stat().st_mode)[-3:] == "600"
    first = key_file.read_text()
    assert start(tmp_path).returncode == 0
    assert key_file.read_text() == first


def test_a_good_environment_is_taken(tmp_path):
    import base64

    key = base64.urlsafe_b64encode(b"k" * 32).decode()
    result = start(
        tmp_path,
        DATABASE_URL="postgres://u:p@db.example:5432/dsr",
        DSR_ENCRYPTION_KEY=key,
        SECRET_KEY="s" * 50,
        EMAIL_URL=f"filemail://{tmp_path}/mail",
        DEBUG="false",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.postgresql"
    assert not (tmp_path / "encryption_key").exists()


def test_check_deploy_names_keys_left_to_the_developer_default(tmp_path):
    environ = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DSR_ENCRYPTION_KEY"}}
    environ.update({"DSR_VAR_DIR": str(tmp_path), "DSR_TESTING": ""})
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "dsr.E001" in result.stderr and "dsr.E002" in result.stderr
