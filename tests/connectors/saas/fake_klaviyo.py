"""Klaviyo's revisioned REST API as its OpenAPI files (klaviyo/openapi, revision 2026-07-15)
describe it: JSON:API profiles and events filtered with ``equals(field,"value")``, paged by
``page[size]`` and the absolute URL at ``links.next`` (``page[cursor]`` inside it), PATCH of
a profile, and the Data Privacy deletion job: ``202`` with no body, the deletion done later
on Klaviyo's own clock (``deletions.run()``), with no endpoint to ask about it. Errors are
``{errors: [{id, status, code, title, detail, source}]}``.

The 401 body is the one Klaviyo answers for a missing or malformed ``Authorization``
header (as quoted on Klaviyo's community forum); Klaviyo documents no separate wording for
a well-formed but wrong key, so the fake answers both the same way."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlencode

from .vendor_server import Fake, Later, Reply, Request, cursor_page, page_size, route

KEY = "pk_4b1e2f0a9c8d7e6f5a4b3c2d1e0f9a8b7c"
FILTER = re.compile(r'equals\((\w+),"([^"]*)"\)\Z')


def jsonapi_error(status: int, code: str, title: str, detail: str) -> Reply:
    return status, {
        "errors": [
            {
                "id": str(uuid.uuid4()),
                "status": status,
                "code": code,
                "title": title,
                "detail": detail,
                "source": {"pointer": "/data/"},
            }
        ]
    }


def invalid(detail: str) -> Reply:
    return jsonapi_error(400, "invalid", "Invalid input.", detail)


class FakeKlaviyo(Fake):
    def __init__(self) -> None:
        self.profiles: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.redacted_events: list[dict[str, Any]] = []
        #: Klaviyo's Deleted Profiles list: the contact details kept as a record
        self.deleted_profiles: list[dict[str, Any]] = []
        self.deletions = Later()
        self._next = 0

    def _id(self) -> str:
        self._next += 1
        return f"01HZ{self._next:022d}"

    def add_profile(self, email: str, first: str, last: str, *, events: int) -> str:
        pid = self._id()
        self.profiles[pid] = {
            "type": "profile",
            "id": pid,
            "attributes": {
                "email": email,
                "phone_number": "+447700900001",
                "external_id": None,
                "first_name": first,
                "last_name": last,
                "organization": "Wonderland Ltd",
                "locale": "en-GB",
                "created": "2024-01-02T10:00:00+00:00",
                "updated": "2024-03-04T10:00:00+00:00",
                "location": {"city": "Oxford", "country": "United Kingdom"},
                "properties": {},
            },
            "links": {"self": f"https://a.klaviyo.com/api/profiles/{pid}/"},
        }
        for i in range(events):
            eid = self._id()
            self.events[eid] = {
                "type": "event",
                "id": eid,
                "attributes": {
                    "timestamp": 1700000000 + i,
                    "datetime": "2023-11-14T22:13:20+00:00",
                    "uuid": str(uuid.uuid4()),
                    "event_properties": {"Subject": f"Offer {i}", "$email": email},
                },
                "relationships": {
                    "profile": {"data": {"type": "profile", "id": pid}},
                    "metric": {"data": {"type": "metric", "id": "RcXh4e"}},
                },
                "links": {"self": f"https://a.klaviyo.com/api/events/{eid}/"},
            }
        return pid

    def authorize(self, request: Request) -> Reply | None:
        if request.headers.get("authorization") != f"Klaviyo-API-Key {KEY}":
            return jsonapi_error(
                401,
                "not_authenticated",
                "Authentication credentials were not provided.",
                "Missing or invalid authorization scheme. Please use Klaviyo-API-Key.",
            )
        return None

    def missing(self, request: Request) -> Reply:
        return jsonapi_error(404, "not_found", "Not found.", "The resource was not found.")

    def _listing(
        self, request: Request, rows: list[dict[str, Any]], *, maximum: int, default: int
    ) -> Reply:
        size = page_size(request, "page[size]", default=default, maximum=maximum)
        if isinstance(size, tuple):
            return invalid(f"page[size] must be between 1 and {maximum}.")
        try:
            page, following, _ = cursor_page(rows, request.arg("page[cursor]"), size)
        except ValueError:
            return invalid("Invalid page cursor.")
        here = f"http://{request.headers['host']}{request.path}"
        args = {k: v[0] for k, v in request.query.items() if k != "page[cursor]"}
        links: dict[str, Any] = {"self": f"{here}?{urlencode(args)}", "next": None, "prev": None}
        if following:
            links["next"] = f"{here}?{urlencode({**args, 'page[cursor]': following})}"
        return 200, {"data": page, "links": links}

    def _filter(self, request: Request, field: str) -> str | Reply:
        found = FILTER.match(request.arg("filter") or "")
        if not found or found.group(1) != field:
            return invalid(f'This fake filters only with equals({field},"…").')
        return found.group(2)

    @route("GET", r"/api/profiles")
    def get_profiles(self, request: Request) -> Reply:
        if request.arg("filter") is None:
            return self._listing(request, list(self.profiles.values()), maximum=100, default=20)
        email = self._filter(request, "email")
        if isinstance(email, tuple):
            return email
        rows = [
            p
            for p in self.profiles.values()
            if str(p["attributes"]["email"]).lower() == email.lower()
        ]
        return self._listing(request, rows, maximum=100, default=20)

    @route("GET", r"/api/events")
    def get_events(self, request: Request) -> Reply:
        pid = self._filter(request, "profile_id")
        if isinstance(pid, tuple):
            return pid
        rows = [
            e for e in self.events.values() if e["relationships"]["profile"]["data"]["id"] == pid
        ]
        return self._listing(request, rows, maximum=1000, default=200)

    @route("POST", r"/api/data-privacy-deletion-jobs")
    def request_profile_deletion(self, request: Request) -> Reply:
        data = (request.json or {}).get("data") or {}
        profile = ((data.get("attributes") or {}).get("profile") or {}).get("data") or {}
        if data.get("type") != "data-privacy-deletion-job" or profile.get("type") != "profile":
            return invalid("A data-privacy-deletion-job with a profile is required.")
        given = {k: v for k, v in (profile.get("attributes") or {}).items() if v}
        if profile.get("id"):
            given["id"] = profile["id"]
        if len(given) != 1:
            return invalid("Exactly one of email, phone_number or id is required.")
        ((kind, value),) = given.items()
        self.deletions.add(lambda: self._delete_matching(kind, value))
        return 202, None

    def _delete_matching(self, kind: str, value: str) -> None:
        for pid, profile in list(self.profiles.items()):
            if (pid if kind == "id" else profile["attributes"].get(kind)) != value:
                continue
            del self.profiles[pid]
            attributes = profile["attributes"]
            self.deleted_profiles.append(
                {"email": attributes["email"], "phone_number": attributes["phone_number"]}
            )
            for eid, event in list(self.events.items()):
                if event["relationships"]["profile"]["data"]["id"] == pid:
                    del self.events[eid]
                    self.redacted_events.append(
                        {
                            **event,
                            "attributes": {**event["attributes"], "event_properties": "redacted"},
                        }
                    )

    @route("PATCH", r"/api/profiles/(\w+)")
    def update_profile(self, request: Request, pid: str) -> Reply:
        if pid not in self.profiles:
            return self.missing(request)
        data = (request.json or {}).get("data") or {}
        if data.get("type") != "profile" or data.get("id") != pid:
            return jsonapi_error(409, "conflict", "Conflict.", "The id does not match the URL.")
        self.profiles[pid]["attributes"].update(data.get("attributes") or {})
        return 200, {"data": self.profiles[pid]}


def populated() -> tuple[FakeKlaviyo, dict[str, str]]:
    """Alice has 450 events (three pages of 200), Bob 12; Alicia's e-mail starts like Alice's."""
    klaviyo = FakeKlaviyo()
    people = {
        "alice": klaviyo.add_profile("alice@example.com", "Alice", "Liddell", events=450),
        "bob": klaviyo.add_profile("bob@example.com", "Bob", "Builder", events=12),
        "alicia": klaviyo.add_profile("alice@example.com.au", "Alicia", "Keys", events=3),
    }
    return klaviyo, people
