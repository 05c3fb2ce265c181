"""HubSpot's CRM v3 as its OpenAPI files describe it (HubSpot-public-api-spec-collection,
CRM/Contacts and CRM/Notes): object search with filterGroups and a body cursor
(``after``, ``paging.next.after``, at most 200 a page), the GDPR delete, PATCH of
properties, and ``{status, message, correlationId, category}`` errors."""

from __future__ import annotations

import uuid
from typing import Any

from .vendor_server import Fake, Reply, Request, route

TOKEN = "pat-eu1-0b7c3f4e-test-token-hubspot"
SEARCH_MAX = 200


def _error(status: int, message: str, category: str) -> Reply:
    return status, {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }


class FakeHubSpot(Fake):
    def __init__(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, dict[str, Any]] = {}  # id → note, with "contact" it is associated to
        self.gdpr_deleted: list[str] = []
        self._next = 100

    def _id(self) -> str:
        self._next += 1
        return str(self._next)

    def add_contact(self, email: str, first: str, last: str) -> str:
        cid = self._id()
        self.contacts[cid] = {
            "email": email.lower(),
            "firstname": first,
            "lastname": last,
            "phone": "+44 20 0000",
            "company": "Wonderland Ltd",
            "createdate": "2024-01-02T10:00:00.000Z",
            "lastmodifieddate": "2024-03-04T10:00:00.000Z",
            "hs_object_id": cid,
        }
        return cid

    def add_notes(self, contact: str, n: int) -> None:
        for i in range(n):
            nid = self._id()
            self.notes[nid] = {
                "contact": contact,
                "hs_note_body": f"call {i} with {contact}",
                "hs_timestamp": "2024-05-01T09:00:00.000Z",
                "hs_object_id": nid,
            }

    def authorize(self, request: Request) -> Reply | None:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return _error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                "and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        return None

    def missing(self, request: Request) -> Reply:
        return _error(404, "resource not found", "OBJECT_NOT_FOUND")

    @staticmethod
    def _object(oid: str, values: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
        shown = {k: v for k, v in values.items() if k != "contact" and (not wanted or k in wanted)}
        return {
            "id": oid,
            "properties": shown,
            "createdAt": "2024-01-02T10:00:00.000Z",
            "updatedAt": "2024-03-04T10:00:00.000Z",
            "archived": False,
        }

    def _search(self, request: Request, table: dict[str, dict[str, Any]], test) -> Reply:
        body = request.json or {}
        limit = int(body.get("limit", 10))
        if not 1 <= limit <= SEARCH_MAX:
            return _error(400, f"limit must be between 1 and {SEARCH_MAX}", "VALIDATION_ERROR")
        groups = body.get("filterGroups", [])
        hits = [
            oid
            for oid, values in table.items()
            if any(all(test(oid, values, f) for f in g["filters"]) for g in groups)
        ]
        start = int(body.get("after", 0))
        page = hits[start : start + limit]
        answer: dict[str, Any] = {
            "total": len(hits),
            "results": [self._object(oid, table[oid], body.get("properties")) for oid in page],
        }
        if start + limit < len(hits):
            after = str(start + limit)
            answer["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return 200, answer

    @route("POST", r"/crm/v3/objects/contacts/search")
    def search_contacts(self, request: Request) -> Reply:
        def test(oid: str, values: dict[str, Any], f: dict[str, Any]) -> bool:
            assert f["operator"] == "EQ", "this fake knows only EQ"
            return str(values.get(f["propertyName"], "")).lower() == str(f["value"]).lower()

        return self._search(request, self.contacts, test)

    @route("POST", r"/crm/v3/objects/notes/search")
    def search_notes(self, request: Request) -> Reply:
        def test(oid: str, values: dict[str, Any], f: dict[str, Any]) -> bool:
            assert (f["propertyName"], f["operator"]) == ("associations.contact", "EQ")
            return values["contact"] == f["value"]

        return self._search(request, self.notes, test)

    @route("POST", r"/crm/v3/objects/contacts/gdpr-delete")
    def gdpr_delete(self, request: Request) -> Reply:
        oid = str((request.json or {}).get("objectId", ""))
        if oid not in self.contacts:
            return _error(404, "resource not found", "OBJECT_NOT_FOUND")
        del self.contacts[oid]
        self.notes = {k: v for k, v in self.notes.items() if v["contact"] != oid}
        self.gdpr_deleted.append(oid)
        return 204, None

    @route("PATCH", r"/crm/v3/objects/contacts/(\d+)")
    def update_contact(self, request: Request, oid: str) -> Reply:
        if oid not in self.contacts:
            return _error(404, "resource not found", "OBJECT_NOT_FOUND")
        self.contacts[oid].update((request.json or {})["properties"])
        return 200, self._object(oid, self.contacts[oid], None)

    @route("GET", r"/crm/v3/objects/contacts")
    def list_contacts(self, request: Request) -> Reply:
        limit = int(request.arg("limit", "10"))
        ids = list(self.contacts)[:limit]
        return 200, {"results": [self._object(oid, self.contacts[oid], None) for oid in ids]}


def populated() -> tuple[FakeHubSpot, dict[str, str]]:
    """Alice's contact has 230 notes (three pages of 100), Bob's 5; Alicia's e-mail shares
    Alice's prefix."""
    hubspot = FakeHubSpot()
    people = {
        "alice": hubspot.add_contact("Alice@Example.com", "Alice", "Liddell"),
        "bob": hubspot.add_contact("bob@example.com", "Bob", "Builder"),
        "alicia": hubspot.add_contact("alice@example.com.au", "Alicia", "Keys"),
    }
    hubspot.add_notes(people["alice"], 230)
    hubspot.add_notes(people["bob"], 5)
    hubspot.add_notes(people["alicia"], 3)
    return hubspot, people
