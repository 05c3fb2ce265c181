"""Braze's REST API as its documentation sources (braze-inc/braze-docs) describe it:
``/users/export/ids`` by one ``email_address`` (or up to 50 ``external_ids``) with
``fields_to_export`` required (as for workspaces onboarded since 22 August 2024), answering
every matching profile at once; ``/users/delete`` by ``braze_ids``, which only queues the
deletion (done later on Braze's clock: ``deletions.run()``); ``/users/track`` attributes;
bearer REST API keys, and ``{message, errors}`` bodies. Braze documents no success status
for these calls; the fake answers 201, as a Braze docs issue reports for an export.
Where Braze documents only an error's shape (a 400), the wording is the fake's own."""

from __future__ import annotations

import uuid
from typing import Any

from .vendor_server import Fake, Later, Reply, Request, bearer, route

KEY = "2a1d6c4e-8b7f-4f0e-9c3d-5e6f7a8b9c0d"
MAX_IDS = 50
SINGLE = ("device_id", "braze_id", "email_address", "phone")


def fatal(status: int, message: str) -> Reply:
    return status, {"message": message}


class FakeBraze(Fake):
    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}  # braze_id → the whole profile
        self.deletions = Later()
        self.deleted: list[str] = []

    def add_user(self, email: str, first: str, last: str, *, external_id: str | None) -> str:
        braze_id = uuid.uuid4().hex[:24]
        self.users[braze_id] = {
            "created_at": "2024-07-10 15:00:00.000 UTC",
            "external_id": external_id,
            "braze_id": braze_id,
            "first_name": first,
            "last_name": last,
            "email": email,
            "home_city": "Oxford",
            "country": "GB",
            "phone": "+447700900002",
            "email_subscribe": "subscribed",
            "custom_attributes": {"loyaltyPoints": 321},
            "custom_events": [
                {
                    "name": "Viewed",
                    "first": "2026-06-01T10:00:00.000Z",
                    "last": "2026-06-28T17:02:43.032Z",
                    "count": 14,
                }
            ],
            "purchases": [
                {
                    "name": "item_40834",
                    "first": "2026-05-03T03:45:50.540Z",
                    "last": "2026-06-03T17:30:41.201Z",
                    "count": 2,
                }
            ],
            "devices": [{"model": "Pixel 8", "os": "Android (U)", "ad_tracking_enabled": False}],
            "campaigns_received": [
                {
                    "name": "Welcome",
                    "api_campaign_id": str(uuid.uuid4()),
                    "last_received": "2026-06-02T03:07:38.105Z",
                }
            ],
        }
        return braze_id

    def authorize(self, request: Request) -> Reply | None:
        if not bearer(request, KEY):
            return fatal(401, "Invalid API key")
        return None

    def missing(self, request: Request) -> Reply:
        return fatal(404, "Invalid URL")

    @route("POST", r"/users/export/ids")
    def export_ids(self, request: Request) -> Reply:
        body = request.json or {}
        fields = body.get("fields_to_export")
        if not fields:
            return fatal(400, "fields_to_export is required")
        singles = [key for key in SINGLE if key in body]
        external_ids = body.get("external_ids") or []
        if len(singles) > 1 or len(external_ids) > MAX_IDS:
            return fatal(400, "The max number of ids per request was exceeded")
        if singles == ["email_address"]:
            wanted = str(body["email_address"]).lower()
            found = [u for u in self.users.values() if str(u["email"]).lower() == wanted]
            unknown = [] if found else [body["email_address"]]
        else:
            found = [u for u in self.users.values() if u["external_id"] in external_ids]
            unknown = sorted(set(external_ids) - {u["external_id"] for u in found})
        users = [{k: v for k, v in u.items() if k in fields and v is not None} for u in found]
        answer: dict[str, Any] = {"message": "success", "users": users}
        if unknown:
            answer["invalid_user_ids"] = unknown
        return 201, answer

    @route("POST", r"/users/delete")
    def delete(self, request: Request) -> Reply:
        body = request.json or {}
        kinds = [
            k
            for k in (
                "external_ids",
                "user_aliases",
                "braze_ids",
                "email_addresses",
                "phone_numbers",
            )
            if body.get(k)
        ]
        if kinds != ["braze_ids"] or len(body["braze_ids"]) > MAX_IDS:
            return fatal(400, "Bad Request")  # this fake deletes by braze_ids only
        queued = [b for b in body["braze_ids"] if b in self.users]

        def delete() -> None:
            for braze_id in queued:
                if self.users.pop(braze_id, None) is not None:
                    self.deleted.append(braze_id)

        self.deletions.add(delete)
        return 201, {"deleted": len(queued), "message": "success"}

    @route("POST", r"/users/track")
    def track(self, request: Request) -> Reply:
        processed, errors = 0, []
        for index, attributes in enumerate((request.json or {}).get("attributes", [])):
            user = self.users.get(attributes.get("braze_id", ""))
            if user is None:
                errors.append(
                    {"type": "user not found", "input_array": "attributes", "index": index}
                )
                continue
            identifiers = {"braze_id", "_update_existing_only"}
            user.update({k: v for k, v in attributes.items() if k not in identifiers})
            processed += 1
        answer: dict[str, Any] = {"message": "success", "attributes_processed": processed}
        if errors:
            answer["errors"] = errors
        return 201, answer


def populated() -> tuple[FakeBraze, dict[str, str]]:
    """Alice has two profiles with her e-mail (identified, and an anonymous one from another
    device); Bob and Alicia (alice@example.com.au) are others."""
    braze = FakeBraze()
    people = {
        "alice": braze.add_user("alice@example.com", "Alice", "Liddell", external_id="u-alice"),
        "alice_anonymous": braze.add_user("Alice@example.com", "Alice", "", external_id=None),
        "bob": braze.add_user("bob@example.com", "Bob", "Builder", external_id="u-bob"),
        "alicia": braze.add_user("alice@example.com.au", "Alicia", "Keys", external_id="u-alicia"),
    }
    return braze, people
