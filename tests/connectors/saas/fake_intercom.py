"""Intercom's REST API 2.x as its OpenAPI description (intercom/Intercom-OpenAPI,
descriptions/2.14) has it: contact and conversation search with a query object and
``pagination: {per_page, starting_after}`` in the body, answered with ``pages.next.
starting_after`` while there is more; a contact's notes; a conversation with its parts;
DELETE and PUT of a contact; ``GET /me``; bearer tokens, and ``error.list`` bodies.
Where Intercom documents only an error's shape (a 400), the wording is the fake's own."""

from __future__ import annotations

import uuid
from typing import Any

from .vendor_server import Fake, Reply, Request, bearer, cursor_page, route

TOKEN = "dG9rOmIxZjc1YzM2XzRkNGFfNGUxMV9hZTk1XzI2YjQ3MzJlNjk1ZToxOjA="
SEARCH_MAX = 150  # per_page, for contacts and conversations alike


def error_list(status: int, code: str, message: str) -> Reply:
    return status, {
        "type": "error.list",
        "request_id": str(uuid.uuid4()),
        "errors": [{"code": code, "message": message}],
    }


NOT_FOUND = error_list(404, "not_found", "Resource Not Found")


class FakeIntercom(Fake):
    def __init__(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, dict[str, Any]] = {}
        self.conversations: dict[str, dict[str, Any]] = {}
        self.parts: dict[str, list[dict[str, Any]]] = {}  # conversation id → its parts
        self.deleted: list[str] = []
        self._next = 0

    def _id(self) -> str:
        self._next += 1
        return str(self._next)

    def add_contact(
        self, email: str, name: str, *, role: str = "user", notes: int = 0, conversations: int = 0
    ) -> str:
        cid = uuid.uuid4().hex[:24]
        self.contacts[cid] = {
            "type": "contact",
            "id": cid,
            "workspace_id": "ecahpwf5",
            "external_id": None if role == "lead" else f"ext-{cid[:6]}",
            "role": role,
            "email": email,
            "phone": "+447700900000",
            "name": name,
            "created_at": 1700000000,
            "updated_at": 1700000500,
            "location": {"type": "location", "country": "United Kingdom", "city": "Oxford"},
            "custom_attributes": {},
        }
        for i in range(notes):
            nid = self._id()
            self.notes[nid] = {
                "type": "note",
                "id": nid,
                "created_at": 1700001000 + i,
                "contact": {"type": "contact", "id": cid},
                "author": {"type": "admin", "id": "991267581", "name": "Support"},
                "body": f"<p>Called {name} ({i})</p>",
            }
        for i in range(conversations):
            vid = self._id()
            self.conversations[vid] = {
                "type": "conversation",
                "id": vid,
                "created_at": 1700002000 + i,
                "updated_at": 1700002000 + i,
                "source": {
                    "type": "conversation",
                    "id": f"s{vid}",
                    "body": f"<p>Help {i}</p>",
                    "author": {"type": "user", "id": cid, "email": email},
                },
                "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": cid}]},
                "open": False,
                "state": "closed",
                "conversation_rating": None,
            }
            self.parts[vid] = [
                {
                    "type": "conversation_part",
                    "id": f"{vid}-{n}",
                    "part_type": "comment",
                    "body": f"reply {n} to {name}",
                    "created_at": 1700003000 + n,
                    "author": {"type": "admin", "id": "991267581", "name": "Support"},
                }
                for n in range(2)
            ]
        return cid

    def authorize(self, request: Request) -> Reply | None:
        if not bearer(request, TOKEN):
            return error_list(401, "unauthorized", "Access Token Invalid")
        return None

    def missing(self, request: Request) -> Reply:
        return NOT_FOUND

    @route("GET", r"/me")
    def me(self, request: Request) -> Reply:
        return 200, {
            "type": "admin",
            "id": "991267459",
            "email": "dpo@acme.example",
            "app": {"type": "app", "id_code": "ecahpwf5", "name": "Acme"},
        }

    def _search(
        self,
        request: Request,
        table: dict[str, dict[str, Any]],
        fields: dict[str, Any],
        listed: str,
        kind: str,
    ) -> Reply:
        body = request.json or {}
        query, paging = body.get("query") or {}, body.get("pagination") or {}
        size = int(paging.get("per_page", 50 if listed == "data" else 20))
        if not 1 <= size <= SEARCH_MAX:
            return error_list(400, "parameter_invalid", f"per_page must be at most {SEARCH_MAX}")
        if query.get("operator") != "=" or query.get("field") not in fields:
            return error_list(
                400, "query_invalid", "this fake searches only with = on " + ", ".join(fields)
            )
        wanted = str(query.get("value", "")).lower()
        hits = [row for row in table.values() if wanted in fields[query["field"]](row)]
        try:
            page, following, start = cursor_page(hits, paging.get("starting_after"), size)
        except ValueError:
            return error_list(400, "parameter_invalid", "starting_after is invalid")
        pages: dict[str, Any] = {
            "type": "pages",
            "page": start // size + 1,
            "per_page": size,
            "total_pages": -(-len(hits) // size),
        }
        if following:
            pages["next"] = {"per_page": size, "starting_after": following}
        return 200, {"type": kind, listed: page, "total_count": len(hits), "pages": pages}

    @route("POST", r"/contacts/search")
    def search_contacts(self, request: Request) -> Reply:
        fields = {"email": lambda c: {str(c["email"]).lower()}, "id": lambda c: {c["id"]}}
        return self._search(request, self.contacts, fields, "data", "list")

    @route("POST", r"/conversations/search")
    def search_conversations(self, request: Request) -> Reply:
        fields = {"contact_ids": lambda v: {c["id"] for c in v["contacts"]["contacts"]}}
        return self._search(
            request, self.conversations, fields, "conversations", "conversation.list"
        )

    @route("GET", r"/contacts/(\w+)/notes")
    def contact_notes(self, request: Request, cid: str) -> Reply:
        if cid not in self.contacts:
            return error_list(404, "not_found", "User Not Found")
        notes = [n for n in self.notes.values() if n["contact"]["id"] == cid]
        pages = {"type": "pages", "next": None, "page": 1, "per_page": 50, "total_pages": 1}
        return 200, {"type": "list", "data": notes, "total_count": len(notes), "pages": pages}

    @route("GET", r"/conversations/(\w+)")
    def conversation(self, request: Request, vid: str) -> Reply:
        if vid not in self.conversations:
            return NOT_FOUND
        parts = self.parts[vid][-500:]
        return 200, {
            **self.conversations[vid],
            "conversation_parts": {
                "type": "conversation_part.list",
                "conversation_parts": parts,
                "total_count": len(parts),
            },
        }

    @route("DELETE", r"/contacts/(\w+)")
    def delete_contact(self, request: Request, cid: str) -> Reply:
        contact = self.contacts.pop(cid, None)
        if contact is None:
            return NOT_FOUND
        self.notes = {k: n for k, n in self.notes.items() if n["contact"]["id"] != cid}
        theirs = [
            k
            for k, v in self.conversations.items()
            if cid in {c["id"] for c in v["contacts"]["contacts"]}
        ]
        for vid in theirs:  # "Deleting leads or users will remove all of their conversations"
            del self.conversations[vid], self.parts[vid]
        self.deleted.append(cid)
        return 200, {
            "type": "contact",
            "id": cid,
            "external_id": contact["external_id"],
            "deleted": True,
        }

    @route("PUT", r"/contacts/(\w+)")
    def update_contact(self, request: Request, cid: str) -> Reply:
        if cid not in self.contacts:
            return NOT_FOUND
        change = request.json or {}
        allowed = {
            "role",
            "external_id",
            "email",
            "phone",
            "name",
            "avatar",
            "signed_up_at",
            "last_seen_at",
            "owner_id",
            "unsubscribed_from_emails",
            "custom_attributes",
        }
        self.contacts[cid].update({k: v for k, v in change.items() if k in allowed})
        return 200, self.contacts[cid]


def populated() -> tuple[FakeIntercom, dict[str, str]]:
    """Alice is a user (4 notes, 120 conversations: three pages of 50) and a lead with the same
    e-mail (2 conversations); Bob and Alicia (alice@example.com.au) are others."""
    intercom = FakeIntercom()
    people = {
        "alice": intercom.add_contact(
            "alice@example.com", "Alice Liddell", notes=4, conversations=120
        ),
        "alice_lead": intercom.add_contact(
            "Alice@example.com", "Alice", role="lead", conversations=2
        ),
        "bob": intercom.add_contact("bob@example.com", "Bob Builder", notes=1, conversations=5),
        "alicia": intercom.add_contact("alice@example.com.au", "Alicia Keys", conversations=2),
    }
    return intercom, people
