"""Shared actors for the SaaS template tests: Alice, the fake Stripe, and a connector
pointed at a fake by ``base_url``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.base import Subject
from connectors.saas.connector import SaasConnector

from . import fake_stripe
from .vendor_server import VendorServer, serving


@pytest.fixture
def alice() -> Subject:
    return Subject("req-alice", {"email": "alice@example.com", "phone": "+4915100000001"})


@pytest.fixture
def stripe() -> Iterator[VendorServer]:
    """The fake Stripe, used by the Stripe tests and by those of the connector's HTTP behaviour."""
    with serving(fake_stripe.populated) as server:
        yield server


@pytest.fixture
def connect() -> Iterator[Callable[..., SaasConnector]]:
    """``connect(template, base_url, secrets, **config)``; closed after the test."""
    made: list[SaasConnector] = []

    def build(
        template: str, base_url: str, secrets: dict[str, str], **config: Any
    ) -> SaasConnector:
        connector = SaasConnector(
            name=f"{template}-test",
            config={"template": template, "base_url": base_url, **config},
            secrets=secrets,
        )
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()
