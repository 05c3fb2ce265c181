"""Shared fixtures: the services check, a clean cache, and the actors of a request."""

from __future__ import annotations

import os
import re

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from rest_framework.test import APIClient

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session", autouse=True)
def services_are_real():
    """In CI the suite runs on PostgreSQL and Redis, never silently on the fallbacks."""
    if not IN_CI:
        return
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.postgresql":
        pytest.fail(f"CI must run on PostgreSQL (DATABASE_URL); got {engine}")
    if not settings.REDIS_URL:
        pytest.fail("CI must run with Redis (REDIS_URL is not set)")
    import redis

    redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogues():
    """The translations as the app reads them: .mo files built from the .po in the repo (make test
    does it too; here so that a plain pytest in a fresh clone needs no extra step)."""
    from dsr.management.commands.compile_catalogues import compile_all

    compile_all()


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language: a page a test asked for in German leaves German
    active in this thread (LocaleMiddleware activates a language and nothing puts it back)."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def clean_cache():
    """Rate-limit counters live in the cache (Redis in CI): each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


CODE_RE = re.compile(r"^\s{4}(\d{6})\s*$", re.MULTILINE)


def code_from(message) -> str:
    match = CODE_RE.search(message.body)
    assert match, f"no code in email: {message.body!r}"
    return match.group(1)


def last_code(to: str) -> str:
    sent = [m for m in mail.outbox if to in m.to]
    assert sent, f"no email to {to}"
    return code_from(sent[-1])


@pytest.fixture
def file_request(api, django_capture_on_commit_callbacks):
    """File a request through the public API; returns the JSON response."""

    def file(**overrides):
        body = {"kind": "access", "email": "alice@example.com", "country": "DE", **overrides}
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post("/api/v1/requests/", body, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return file


@pytest.fixture
def verified_request(api, file_request):
    """A request filed and verified with its emailed code; returns (created, verified JSON)."""

    def make(**overrides):
        created = file_request(**overrides)
        email = overrides.get("email", "alice@example.com")
        response = api.post(
            f"/api/v1/requests/{created['reference']}/verify/",
            {"code": last_code(email)},
            format="json",
        )
        assert response.status_code == 200, response.content
        return created, response.json()

    return make


@pytest.fixture
def desk_login(client, db):
    """Log ``client`` in to the desk with a role and a verified TOTP device (as the login form does)."""
    from django.contrib.auth import get_user_model
    from django_otp import DEVICE_ID_SESSION_KEY

    from dsr.core.models import TOTPDevice
    from dsr.core.roles import Role, grant

    def login(role: str = "officer", username: str | None = None):
        user = get_user_model().objects.create_user(username or role, f"{username or role}@corp.example", "pw")
        grant(user, Role(role))
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        client.force_login(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return user

    return login
