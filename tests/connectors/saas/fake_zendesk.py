"""Zendesk Support's Ticketing API as documented: user search with offset paging
(``page``, ``per_page`` ≤ 100, ``next_page``) that matches partial values, requested
tickets with cursor paging (``page[size]``, ``page[after]``, ``meta``, ``links``),
soft then permanent user deletion, ticket deletion, basic auth ``{email}/token:{token}``,
and ``{"error", "description"}`` bodies."""

from __future__ import annotations

import base64
from typing import Any

from .vendor_server import Fake, Reply, Request, page_size, route

AGENT = "agent@acme.example"
TOKEN = "zd-token-6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv"
NOT_FOUND: Reply = (404, {"error": "RecordNotFound", "description": "Not found"})


class FakeZendesk(Fake):
    def __init__(self) -> None:
        self.base = "https://acme.zendesk.com"
        self.users: dict[int, dict[str, Any]] = {}
        self.deleted_users: dict[int, dict[str, Any]] = {}
        self.purged: list[int] = []
        self.tickets: dict[int, dict[str, Any]] = {}
        self.deleted_tickets: set[int] = set()
        self._next = 1000

    def add_user(self, email: str, name: str, *, tickets: int) -> int:
        self._next += 1
        uid = self._next
        self.users[uid] = {
            "id": uid,
            "name": name,
            "email": email,
            "role": "end-user",
            "phone": None,
            "active": True,
            "url": f"{self.base}/api/v2/users/{uid}.json",
        }
        for i in range(tickets):
            self._next += 1
            self.tickets[self._next] = {
                "id": self._next,
                "requester_id": uid,
                "status": "open",
                "subject": f"Help {i}",
                "description": f"from {name}",
            }
        return uid

    def authorize(self, request: Request) -> Reply | None:
        expected = base64.b64encode(f"{AGENT}/token:{TOKEN}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return 401, {"error": "Couldn't authenticate you"}
        return None

    def missing(self, request: Request) -> Reply:
        return NOT_FOUND

    @route("GET", r"/api/v2/users/me(?:\.json)?")
    def me(self, request: Request) -> Reply:
        return 200, {"user": {"id": 1, "email": AGENT, "role": "admin"}}

    @route("GET", r"/api/v2/users/search(?:\.json)?")
    def search_users(self, request: Request) -> Reply:
        query = (request.arg("query") or "").removeprefix("email:").strip('"').lower()
        per_page = page_size(request, "per_page", default=100, maximum=100)
        if isinstance(per_page, tuple):
            return per_page
        page = int(request.arg("page", "1"))
        # the documented behaviour: a partial value of any property matches
        hits = [
            u
            for u in self.users.values()
            if query and (query in u["email"].lower() or query in u["name"].lower())
        ]
        chunk = hits[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(hits)
        link = f"{self.base}/api/v2/users/search.json?page={page + 1}&per_page={per_page}"
        return 200, {
            "users": chunk,
            "next_page": link if more else None,
            "previous_page": None,
            "count": len(hits),
        }

    @route("GET", r"/api/v2/users/(\d+)/tickets/requested(?:\.json)?")
    def requested(self, request: Request, uid: str) -> Reply:
        if int(uid) not in self.users:
            return NOT_FOUND
        size = page_size(request, "page[size]", default=100, maximum=100)
        if isinstance(size, tuple):
            return size
        mine = [
            t
            for tid, t in sorted(self.tickets.items())
            if t["requester_id"] == int(uid) and tid not in self.deleted_tickets
        ]
        after = request.arg("page[after]")
        if after is not None:
            mine = [t for t in mine if t["id"] > int(after)]
        chunk, more = mine[:size], len(mine) > size
        cursor = str(chunk[-1]["id"]) if chunk else None
        next_link = f"{self.base}/api/v2/users/{uid}/tickets/requested.json?page[after]={cursor}"
        return 200, {
            "tickets": chunk,
            "meta": {"has_more": more, "after_cursor": cursor, "before_cursor": None},
            "links": {"next": next_link if more else None, "prev": None},
        }

    @route("DELETE", r"/api/v2/tickets/(\d+)")
    def delete_ticket(self, request: Request, tid: str) -> Reply:
        if int(tid) not in self.tickets or int(tid) in self.deleted_tickets:
            return NOT_FOUND
        self.deleted_tickets.add(int(tid))
        return 204, None

    @route("DELETE", r"/api/v2/users/(\d+)")
    def delete_user(self, request: Request, uid: str) -> Reply:
        user = self.users.pop(int(uid), None)
        if user is None:
            return NOT_FOUND
        user["active"] = False
        self.deleted_users[int(uid)] = user
        return 200, {"user": user}

    @route("DELETE", r"/api/v2/deleted_users/(\d+)")
    def purge_user(self, request: Request, uid: str) -> Reply:
        user = self.deleted_users.pop(int(uid), None)
        if user is None:  # never deleted, or already gone for good
            return NOT_FOUND
        self.purged.append(int(uid))
        return 200, {
            "deleted_user": {"id": user["id"], "name": user["name"], "email": user["email"]}
        }

    @route("PUT", r"/api/v2/users/(\d+)")
    def update_user(self, request: Request, uid: str) -> Reply:
        if int(uid) not in self.users:
            return NOT_FOUND
        self.users[int(uid)].update((request.json or {}).get("user", {}))
        return 200, {"user": self.users[int(uid)]}


def populated() -> tuple[FakeZendesk, dict[str, int]]:
    """Alice requested 250 tickets (three pages); the search for her address also finds
    alice@example.com.au, whom the template must leave alone."""
    zendesk = FakeZendesk()
    people = {
        "alice": zendesk.add_user("alice@example.com", "Alice Liddell", tickets=250),
        "alicia": zendesk.add_user("alice@example.com.au", "Alicia Keys", tickets=4),
        "bob": zendesk.add_user("bob@example.com", "Bob Builder", tickets=3),
    }
    return zendesk, people
