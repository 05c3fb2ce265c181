"""Path converters the URLconfs share."""

from __future__ import annotations

from django.urls import register_converter


class RequestKey:
    """A request's id (a UUID) or its reference (DSR-XXXX-XXXX): the desk takes either."""

    regex = (
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
        r"|[Dd][Ss][Rr]-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}"
    )

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: object) -> str:
        return str(value)


register_converter(RequestKey, "request")
