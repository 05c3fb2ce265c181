"""The JSON Schema every SaaS template is checked against (docs/connectors.md explains it).

The schema says what a template may contain; ``template.py`` then checks what the
schema cannot: that steps refer to earlier steps, categories are declared, and
every placeholder reads something that exists.
"""

from __future__ import annotations

from typing import Any

_TEXT = {"type": "string", "minLength": 1}
_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}
_PATH = {"type": "string", "pattern": r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$"}
#: a ``records`` path may say ``*`` for every value of an object (paging.records_of)
_RECORDS = {"type": "string", "pattern": r"^(\*|[A-Za-z0-9_\-]+)(\.(\*|[A-Za-z0-9_\-]+))*$"}
_STATUSES = {
    "type": "array",
    "items": {"type": "integer", "minimum": 400, "maximum": 599},
    "uniqueItems": True,
}
_SCALARS = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}

REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["method", "path"],
    "additionalProperties": False,
    "properties": {
        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
        "path": {"type": "string", "pattern": "^/"},
        "query": _SCALARS,
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "json": {"type": ["object", "array"]},
        "form": _SCALARS,
    },
    "not": {"required": ["json", "form"]},
}

_PAGING_KINDS: dict[str, dict[str, Any]] = {
    # the next cursor comes from the answer: a field (``next``) or the last record's field
    "cursor": {
        "required": ["param"],
        "properties": {
            "param": _TEXT,
            "in": {"enum": ["query", "body"]},
            "next": _PATH,
            "next_from_last": _PATH,
            "has_more": _PATH,
            "size_param": _TEXT,
            "size": {"type": "integer", "minimum": 1},
        },
        "oneOf": [{"required": ["next"]}, {"required": ["next_from_last"]}],
    },
    "offset": {
        "required": ["offset_param", "limit_param", "size"],
        "properties": {
            "offset_param": _TEXT,
            "limit_param": _TEXT,
            "size": {"type": "integer", "minimum": 1},
            "total": _PATH,
        },
    },
    "page": {
        "required": ["param"],
        "properties": {
            "param": _TEXT,
            "start": {"type": "integer", "minimum": 0},
            "size_param": _TEXT,
            "size": {"type": "integer", "minimum": 1},
            "next": _PATH,
            "has_more": _PATH,
        },
    },
    "link_header": {
        "properties": {"size_param": _TEXT, "size": {"type": "integer", "minimum": 1}},
    },
    # the answer names the next page's URL or path (Klaviyo's links.next, Salesforce's
    # nextRecordsUrl)
    "next_url": {
        "required": ["next"],
        "properties": {
            "next": _PATH,
            "has_more": _PATH,
            "size_param": _TEXT,
            "size": {"type": "integer", "minimum": 1},
        },
    },
}


def _by_kind(kinds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One object shape per ``kind``, so an error names the field of that kind."""
    return {
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": sorted(kinds)}},
        "allOf": [
            {
                "if": {"properties": {"kind": {"const": kind}}},
                "then": {
                    **spec,
                    "properties": {"kind": True, **spec["properties"]},
                    "additionalProperties": False,
                },
            }
            for kind, spec in kinds.items()
        ],
    }


PAGING = _by_kind(_PAGING_KINDS)

_MATCH = {
    "type": "object",
    "required": ["field", "equals"],
    "additionalProperties": False,
    "properties": {"field": _PATH, "equals": _TEXT, "case_sensitive": {"type": "boolean"}},
}

FIND_STEP: dict[str, Any] = {
    "type": "object",
    "required": ["name", "category", "request"],
    "additionalProperties": False,
    "properties": {
        "name": _NAME,
        "category": _NAME,
        "for_each": _NAME,
        "request": REQUEST,
        "records": _RECORDS,
        "paging": PAGING,
        "match": {"oneOf": [_MATCH, {"type": "array", "items": _MATCH, "minItems": 1}]},
        "not_found": _STATUSES,
        "learn": {"type": "object", "additionalProperties": _PATH},
        "omit": {"type": "array", "items": _TEXT},
    },
}

POLL: dict[str, Any] = {
    "type": "object",
    "required": ["id", "request", "status", "running"],
    "additionalProperties": False,
    "properties": {
        "id": _PATH,
        "request": REQUEST,
        "status": _PATH,
        "done": {"type": "array", "items": _TEXT, "minItems": 1},
        "running": {"type": "array", "items": _TEXT, "minItems": 1},
        # statuses of the poll request that mean the thing is gone: the deletion is done
        "gone": _STATUSES,
        "poll_after": {"type": "number", "minimum": 1},
    },
    "anyOf": [{"required": ["done"]}, {"required": ["gone"]}],
}

ERASE_STEP: dict[str, Any] = {
    "type": "object",
    "required": ["request"],
    "additionalProperties": False,
    "properties": {
        "for_each": _NAME,
        "category": _NAME,
        "request": REQUEST,
        "gone": _STATUSES,
        "counts": {"type": "boolean"},
        "poll": POLL,
        # the vendor queues the deletion and reports no status: look again (the find steps)
        # this many seconds later, until what it deleted is gone
        "confirm_after": {"type": "number", "minimum": 1},
    },
    "anyOf": [{"required": ["for_each"]}, {"required": ["category"]}],
}

RECTIFY_STEP: dict[str, Any] = {
    "type": "object",
    "required": ["for_each", "request", "fields"],
    "additionalProperties": False,
    "properties": {
        "for_each": _NAME,
        "request": REQUEST,
        "fields": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": "string", "pattern": r"^[A-Za-z0-9_\-.\[\]]+$"},
        },
    },
}

_DESCRIBED = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "required": ["description"],
        "additionalProperties": False,
        "properties": {"description": _TEXT, "default": {"type": ["string", "number"]}},
    },
}

_KEY = {"required": ["name", "value"], "properties": {"name": _TEXT, "value": _TEXT}}
AUTH = _by_kind(
    {
        "bearer": {"required": ["token"], "properties": {"token": _TEXT}},
        "basic": {
            "required": ["username", "password"],
            "properties": {"username": _TEXT, "password": _TEXT},
        },
        "header": _KEY,
        "query": _KEY,
        "oauth2_client_credentials": {
            "required": ["token_url", "client_id", "client_secret"],
            "properties": {
                "token_url": _TEXT,
                "client_id": _TEXT,
                "client_secret": _TEXT,
                "scope": _TEXT,
                "audience": _TEXT,
                "client_auth": {"enum": ["basic", "body"]},
            },
        },
    }
)

TEMPLATE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "title", "docs", "base_url", "auth", "categories", "check"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9_-]*$"},
        "title": _TEXT,
        "docs": {
            "type": "array",
            "items": {"type": "string", "pattern": "^https://"},
            "minItems": 1,
        },
        "base_url": {"type": "string", "pattern": "^https?://"},
        "settings": _DESCRIBED,
        "secrets": _DESCRIBED,
        "auth": AUTH,
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 64},
        "error_message": {"type": "array", "items": _PATH, "minItems": 1},
        "categories": {"type": "object", "minProperties": 1, "additionalProperties": _TEXT},
        "check": {"type": "array", "items": REQUEST, "minItems": 1},
        "find": {"type": "array", "items": FIND_STEP},
        "erase": {"type": "array", "items": ERASE_STEP},
        "rectify": {"type": "array", "items": RECTIFY_STEP},
        "cannot_erase": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["category", "reason", "exception"],
                "additionalProperties": False,
                "properties": {"category": _NAME, "reason": _TEXT, "exception": _TEXT},
            },
        },
    },
}
