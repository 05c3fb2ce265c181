"""Which connector kinds exist: built-ins, ``dsr.connectors`` entry points, and in-house ones.

A third party ships a connector as its own package with, in its pyproject.toml::

    [project.entry-points."dsr.connectors"]
    crm = "acme_dsr_crm:CrmConnector"

An in-house connector that is not packaged can be named in the environment:
``DSR_CONNECTORS="crm=acme.crm:CrmConnector,erp=acme.erp:ErpConnector"``.
"""

from __future__ import annotations

import os
from functools import cache, lru_cache
from importlib import import_module
from importlib.metadata import entry_points

from .base import Connector, ConnectorError

ENTRY_POINT_GROUP = "dsr.connectors"

BUILTINS: dict[str, str] = {
    "memory": "connectors.memory:MemoryConnector",
    "postgres": "connectors.postgres:PostgresConnector",
    "mysql": "connectors.mysql:MySQLConnector",
    "django": "connectors.django_models:DjangoModelsConnector",
    "redis": "connectors.redis_keys:RedisConnector",
    "webhook": "connectors.webhook:WebhookConnector",
    "pull": "connectors.external:PullConnector",
    "manual": "connectors.external:ManualConnector",
    "saas": "connectors.saas.connector:SaasConnector",
}


class UnknownConnector(ConnectorError):
    def __init__(self, key: str) -> None:
        known = ", ".join(sorted(available()))
        super().__init__(f"unknown connector {key!r}; available: {known}", permanent=True)


@lru_cache(maxsize=1)
def available() -> dict[str, str]:
    """Connector key → ``module:Class``; a plugin may not shadow a built-in."""
    found = dict(BUILTINS)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry.value)
    for item in os.environ.get("DSR_CONNECTORS", "").split(","):
        key, _, target = item.strip().partition("=")
        if key and target:
            found.setdefault(key.strip(), target.strip())
    return found


@cache
def load(key: str) -> type[Connector]:
    target = available().get(key)
    if target is None:
        raise UnknownConnector(key)
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConnectorError(f"connector {key!r} ({target}) cannot be loaded: {exc}", permanent=True) from exc
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConnectorError(f"connector {key!r} ({target}) is not a Connector subclass", permanent=True)
    return cls
