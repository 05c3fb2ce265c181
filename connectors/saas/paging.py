"""Walking a vendor's list page by page, stopping where the vendor says the list ends.

Kinds (a template's ``paging.kind``):

- ``cursor``: the next page is asked for with a cursor taken from the answer
  (``next``: a field such as HubSpot's ``paging.next.after``) or from the last
  record (``next_from_last``: Stripe's ``starting_after`` is the last object's id);
  ``has_more`` names the vendor's own end flag. The cursor goes in the query or,
  for searches sent as JSON, in the body (``in: body``), where a dotted ``param``
  nests (Intercom's ``pagination.starting_after``).
- ``offset``: offset and limit parameters; ends when the offset reaches ``total``.
- ``page``: a page number; ends when ``next``/``has_more`` say so.
- ``link_header``: follows ``Link: <...>; rel="next"``.
- ``next_url``: follows the URL (or path) the answer gives at ``next``: Klaviyo's
  ``links.next``, Salesforce's ``nextRecordsUrl``; asked for as it is, without the first
  request's query.

A URL to follow (``link_header``, ``next_url``) is only followed to the base URL's
host: the client refuses any other.

Where the vendor gives no end marker, a page shorter than asked for ends the list.
A list that runs past ``max_pages`` raises instead of looping: a vendor that keeps
answering "more" would otherwise keep a worker busy forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..base import ConnectorError
from .expressions import lookup


@dataclass(frozen=True)
class Call:
    """One request, ready to send: ``target`` is a rendered path, or a URL from a Link header."""

    method: str
    target: str
    what: str  # method and the template's path: safe for messages, unlike ``target``
    query: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    form: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: may go to another host than the base URL: only a URL the template or config names
    #: (a token URL), never one an answer points to
    elsewhere: bool = False


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    links: Mapping[str, str] = field(default_factory=dict)  # rel → URL, from a Link header


Send = Callable[[Call], Answer | None]  # None: the vendor says there is nothing there


def records_of(body: Any, path: str | None) -> list[Any]:
    """The records in an answer: the list at ``path``, or the answer itself.

    A ``*`` in ``path`` stands for every value of an object (or item of a list) there:
    SendGrid answers ``{"result": {"<e-mail>": {"contact": {...}}}}``, keyed by an
    address whose dots no dotted path can name, so its records are ``result.*.contact``.
    """
    if path is not None and "*" in path.split("."):
        return _every(body, path.split("."))
    found = body if path is None else lookup(body, path)
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def _every(value: Any, parts: list[str]) -> list[Any]:
    if not parts:
        return records_of(value, None)
    head, *rest = parts
    if head != "*":
        return _every(lookup(value, (head,)), rest)
    if isinstance(value, Mapping):
        items = list(value.values())
    else:
        items = value if isinstance(value, list) else []
    return [record for item in items for record in _every(item, rest)]


def pages(
    send: Send, call: Call, paging: Mapping[str, Any] | None, records: str | None, *, max_pages: int
) -> Iterator[list[Any]]:
    """Each page's records, one page at a time, as the vendor hands them out."""
    call = _first(call, paging) if paging else call
    number = 0
    while True:
        number += 1
        if number > max_pages:
            raise ConnectorError(
                f"{call.what}: more than {max_pages} pages; stopped there instead of going on "
                "(raise max_pages in the system's config if this person really has that much)",
                permanent=True,
            )
        answer = send(call)
        if answer is None:
            return
        page = records_of(answer.body, records)
        yield page
        following = _next(call, paging, answer, page, number) if paging else None
        if following is None:
            return
        call = following


def _first(call: Call, paging: Mapping[str, Any]) -> Call:
    query = dict(call.query)
    kind = paging["kind"]
    if paging.get("size_param") and paging.get("size"):
        query[paging["size_param"]] = paging["size"]
    if kind == "offset":
        query[paging["limit_param"]] = paging["size"]
        query[paging["offset_param"]] = 0
    elif kind == "page":
        query[paging["param"]] = paging.get("start", 1)
    return replace(call, query=query)


def _next(
    call: Call, paging: Mapping[str, Any], answer: Answer, page: list[Any], number: int
) -> Call | None:
    kind, body = paging["kind"], answer.body
    if "has_more" in paging and not lookup(body, paging["has_more"]):
        return None
    if kind == "cursor":
        if "next" in paging:
            cursor = lookup(body, paging["next"])
        else:
            cursor = lookup(page[-1], paging["next_from_last"]) if page else None
        if cursor in (None, ""):
            return None
        if paging.get("in") == "body":
            return replace(call, json=_with(call.json or {}, paging["param"].split("."), cursor))
        return replace(call, query={**call.query, paging["param"]: cursor})
    if kind == "offset":
        offset = int(call.query[paging["offset_param"]]) + len(page)
        total = lookup(body, paging["total"]) if "total" in paging else None
        ended = offset >= total if isinstance(total, int) else len(page) < paging["size"]
        if ended or not page:
            return None
        return replace(call, query={**call.query, paging["offset_param"]: offset})
    if kind == "page":
        if "next" in paging:
            if lookup(body, paging["next"]) in (None, ""):
                return None
        elif "has_more" not in paging and "size" in paging and len(page) < paging["size"]:
            return None
        if not page:
            return None
        following = paging.get("start", 1) + number
        return replace(call, query={**call.query, paging["param"]: following})
    if kind == "next_url":
        url = lookup(body, paging["next"])
    else:  # link_header
        url = answer.links.get("next")
    return replace(call, target=url, query={}) if isinstance(url, str) and url else None


def _with(body: Mapping[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """A copy of a JSON body with ``value`` at ``path``; the objects on the way are copied."""
    head, *rest = path
    inner = body.get(head)
    if rest:
        value = _with(inner if isinstance(inner, Mapping) else {}, rest, value)
    return {**body, head: value}
