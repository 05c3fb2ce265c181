"""Desk tests share the in-memory connector's store: each starts and ends with it empty."""

from __future__ import annotations

import pytest

from connectors.memory import MemoryConnector


@pytest.fixture(autouse=True)
def clean_memory():
    MemoryConnector.reset()
    yield
    MemoryConnector.reset()
