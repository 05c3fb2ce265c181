"""Paging and record paths that some vendors need beyond the common cases: a body cursor
that nests (Intercom), a next-page URL in the answer (Klaviyo), records keyed by e-mail
address (SendGrid), and a change put into a list item (Braze). Driven by a scripted
``send``, so each test shows exactly which requests the engine makes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.saas.connector import _with_changes
from connectors.saas.paging import Answer, Call, pages, records_of


def scripted(*bodies: Any) -> tuple[list[Call], Any]:
    """A ``send`` that answers ``bodies`` in turn and keeps the calls it was given."""
    sent: list[Call] = []
    answers: Iterator[Any] = iter(bodies)

    def send(call: Call) -> Answer:
        sent.append(call)
        return Answer(200, next(answers))

    return sent, send


def test_a_dotted_body_cursor_nests_beside_what_the_template_put_there():
    first = Call(
        "POST",
        "/contacts/search",
        "POST /contacts/search",
        json={"query": {"field": "email"}, "pagination": {"per_page": 2}},
    )
    sent, send = scripted(
        {"data": [1, 2], "pages": {"next": {"starting_after": "WzE3"}}},
        {"data": [3], "pages": {"next": None}},
    )
    paging = {
        "kind": "cursor",
        "in": "body",
        "param": "pagination.starting_after",
        "next": "pages.next.starting_after",
    }

    found = list(pages(send, first, paging, "data", max_pages=10))

    assert found == [[1, 2], [3]]
    assert sent[1].json == {
        "query": {"field": "email"},
        "pagination": {"per_page": 2, "starting_after": "WzE3"},
    }
    assert first.json == {"query": {"field": "email"}, "pagination": {"per_page": 2}}


def test_next_url_follows_the_link_in_the_answer_until_there_is_none():
    first = Call("GET", "/api/profiles", "GET /api/profiles", query={"filter": "x"})
    following = "https://a.klaviyo.example/api/profiles?filter=x&page%5Bcursor%5D=bmV4dA"
    sent, send = scripted(
        {"data": [1], "links": {"self": "…", "next": following}},
        {"data": [2], "links": {"self": "…", "next": None}},
    )
    paging = {"kind": "next_url", "next": "links.next", "size_param": "page[size]", "size": 1}

    found = list(pages(send, first, paging, "data", max_pages=10))

    assert found == [[1], [2]]
    assert sent[0].query == {"filter": "x", "page[size]": 1}
    assert (sent[1].target, sent[1].query) == (following, {})
    assert sent[1].what == "GET /api/profiles"  # messages keep naming the template's path


@pytest.mark.parametrize(
    ("body", "records"),
    [
        ({"result": {"a.b@example.com": {"contact": {"id": "c1"}}}}, [{"id": "c1"}]),
        ({"result": {"x@example.com": {"error": "contact not found"}}}, []),
        (
            {
                "result": {
                    "p@x.example": {"contact": {"id": 1}},
                    "q@x.example": {"contact": {"id": 2}},
                }
            },
            [{"id": 1}, {"id": 2}],
        ),
        ({"result": [{"contact": {"id": 3}}]}, [{"id": 3}]),
        ({}, []),
    ],
)
def test_a_star_in_a_records_path_takes_every_value_there(body, records):
    assert records_of(body, "result.*.contact") == records


def test_a_number_in_a_rectify_path_changes_that_item_of_the_requests_list():
    call = Call(
        "POST",
        "/users/track",
        "POST /users/track",
        json={"attributes": [{"braze_id": "b1", "_update_existing_only": True}]},
    )

    changed = _with_changes(call, {"attributes.0.first_name": "Alys", "attributes.0.email": "a@x"})

    assert changed.json == {
        "attributes": [
            {"braze_id": "b1", "_update_existing_only": True, "first_name": "Alys", "email": "a@x"}
        ]
    }
