"""Fixtures for the SQL connector tests: what to do when a database service is down."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def service_down() -> Callable[[str, Exception], NoReturn]:
    """Skip on a developer machine without the service; in CI a missing service is a failure."""

    def down(service: str, exc: Exception) -> NoReturn:
        reason = (
            f"{service} is not reachable ({type(exc).__name__}: {str(exc).strip().splitlines()[0]})"
        )
        if IN_CI:
            pytest.fail(f"{reason}; CI must run these tests against a real server", pytrace=False)
        pytest.skip(reason)

    return down
