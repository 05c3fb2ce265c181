"""The API's JSON parser: DRF's, refusing what no field can store, before any view sees it."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _unpaired_surrogate(data: Any) -> bool:
    """True if any string (key or value) holds half a surrogate pair, e.g. from "\\ud800".

    Such strings are not Unicode text: they cannot be encoded to UTF-8, so nothing could
    store them. Walked without recursion, whatever the nesting.
    """
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class JSONBodyParser(JSONParser):
    """JSON bodies; a clear 400 for nesting too deep to parse, and for text that is not Unicode."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        if _unpaired_surrogate(data):
            raise ParseError(
                "JSON parse error - a string holds an unpaired surrogate (not Unicode text)."
            )
        return data
