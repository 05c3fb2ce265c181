"""The connector seam: plain data in, plain data out.

Only the shapes are settled here; the built-in connectors and the registry come
with the fan-out engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Subject:
    """One person, as a connected system may be asked about them."""

    request_id: str
    identifiers: dict[str, str] = field(default_factory=dict)

    @property
    def email(self) -> str | None:
        return self.identifiers.get("email")


class ConnectorError(Exception):
    """A connected system could not do its job; ``permanent`` stops retries."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
