"""Mailchimp's Marketing API 3.0 as documented (and as its generated client calls it):
members addressed by subscriber hash (MD5 of the lower-cased e-mail), notes and tags
paged by ``count``/``offset`` with ``total_items``, the permanent delete, basic auth with
any user name and the API key, and problem-detail error bodies."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .vendor_server import Fake, Reply, Request, page_size, route

KEY = "0123456789abcdef0123456789abcdef-us21"
LIST = "a1b2c3d4e5"
ERRORS = "https://mailchimp.com/developer/marketing/docs/errors/"


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


def _problem(status: int, title: str, detail: str) -> Reply:
    return status, {
        "type": ERRORS,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "2f4c1a6e-0000-4000-8000-000000000000",
    }


class FakeMailchimp(Fake):
    def __init__(self) -> None:
        self.members: dict[tuple[str, str], dict[str, Any]] = {}  # (list, hash) → member
        self.notes: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.tags: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.deleted: list[str] = []

    def add_member(self, email: str, first: str, last: str, *, notes: int, tags: int) -> str:
        key = (LIST, subscriber_hash(email))
        self.members[key] = {
            "id": key[1],
            "email_address": email,
            "status": "subscribed",
            "list_id": LIST,
            "merge_fields": {"FNAME": first, "LNAME": last},
            "full_name": f"{first} {last}",
            "timestamp_signup": "2023-04-01T10:00:00+00:00",
            "tags_count": tags,
            "_links": [{"rel": "self", "href": f"/3.0/lists/{LIST}/members/{key[1]}"}],
        }
        self.notes[key] = [
            {
                "id": i,
                "note": f"note {i}",
                "email_id": key[1],
                "list_id": LIST,
                "created_at": "2024-01-01T00:00:00+00:00",
            }
            for i in range(notes)
        ]
        self.tags[key] = [
            {"id": i, "name": f"tag-{i}", "date_added": "2024-01-01T00:00:00+00:00"}
            for i in range(tags)
        ]
        return key[1]

    def authorize(self, request: Request) -> Reply | None:
        given = request.headers.get("authorization", "")
        key = ""
        if given.startswith("Basic "):
            key = base64.b64decode(given[6:]).decode().partition(":")[2]
        elif given.startswith("Bearer "):
            key = given[7:]
        if key != KEY:
            return _problem(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        return None

    def missing(self, request: Request) -> Reply:
        return _problem(404, "Resource Not Found", "The requested resource could not be found.")

    def _member(self, list_id: str, sub: str) -> tuple[str, str] | None:
        return (list_id, sub) if (list_id, sub) in self.members else None

    @route("GET", r"/ping")
    def ping(self, request: Request) -> Reply:
        return 200, {"health_status": "Everything's Chimpy!"}

    @route("GET", r"/lists/(\w+)/members/(\w+)")
    def get_member(self, request: Request, list_id: str, sub: str) -> Reply:
        key = self._member(list_id, sub)
        return (200, self.members[key]) if key else self.missing(request)

    def _collection(self, request: Request, name: str, items: list[dict[str, Any]]) -> Reply:
        count = page_size(request, "count", default=10, maximum=1000)
        if isinstance(count, tuple):
            return _problem(400, "Invalid Resource", "count must be between 1 and 1000")
        offset = int(request.arg("offset", "0"))
        return 200, {name: items[offset : offset + count], "total_items": len(items), "_links": []}

    @route("GET", r"/lists/(\w+)/members/(\w+)/notes")
    def member_notes(self, request: Request, list_id: str, sub: str) -> Reply:
        key = self._member(list_id, sub)
        return self._collection(request, "notes", self.notes[key]) if key else self.missing(request)

    @route("GET", r"/lists/(\w+)/members/(\w+)/tags")
    def member_tags(self, request: Request, list_id: str, sub: str) -> Reply:
        key = self._member(list_id, sub)
        return self._collection(request, "tags", self.tags[key]) if key else self.missing(request)

    @route("POST", r"/lists/(\w+)/members/(\w+)/actions/delete-permanent")
    def delete_permanent(self, request: Request, list_id: str, sub: str) -> Reply:
        key = self._member(list_id, sub)
        if not key:
            return self.missing(request)
        for table in (self.members, self.notes, self.tags):
            del table[key]
        self.deleted.append(sub)
        return 204, None

    @route("PATCH", r"/lists/(\w+)/members/(\w+)")
    def update_member(self, request: Request, list_id: str, sub: str) -> Reply:
        key = self._member(list_id, sub)
        if not key:
            return self.missing(request)
        member, change = self.members[key], request.json or {}
        member["merge_fields"].update(change.get("merge_fields", {}))
        member["email_address"] = change.get("email_address", member["email_address"])
        return 200, member


def populated() -> tuple[FakeMailchimp, dict[str, str]]:
    """Alice (signed up as Alice@Example.com) has 130 notes (two pages) and 12 tags."""
    mailchimp = FakeMailchimp()
    people = {
        "alice": mailchimp.add_member("Alice@Example.com", "Alice", "Liddell", notes=130, tags=12),
        "bob": mailchimp.add_member("bob@example.com", "Bob", "Builder", notes=4, tags=2),
    }
    return mailchimp, people
