"""Twilio SendGrid's v3 Marketing Campaigns contacts as its OpenAPI files describe them
(twilio/sendgrid-oai, tsg_mc_contacts_v3.json, tsg_scopes_v3.json): the search by e-mail
answering ``{result: {<address>: {contact}}}`` or 404, the asynchronous ``DELETE
/v3/marketing/contacts?ids=`` answering ``202 {job_id}``, the job's status at ``GET
/v3/marketing/contacts/imports/{id}`` moving from ``pending`` to ``completed`` on SendGrid's
own clock, ``GET /v3/scopes``, bearer API keys and ``{errors: [{field, message}]}`` bodies.
Where SendGrid documents only an error's shape (a 400, the search's 404), the wording
is the fake's own.

Suppressions (unsubscribes, bounces) are held as data the template never touches, so a test
can show they are still there after an erasure."""

from __future__ import annotations

import uuid
from typing import Any

from .vendor_server import Fake, Job, Reply, Request, bearer, route

KEY = "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"
SEARCH_MAX = 100


def errors(status: int, message: str, field: str | None = None) -> Reply:
    return status, {"errors": [{"field": field, "message": message}]}


class FakeSendGrid(Fake):
    def __init__(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, Job] = {}
        #: the statuses each new deletion job reports, one per status request, the last repeated
        self.progress = ["pending", "pending", "completed"]
        self.global_unsubscribes = {"alice@example.com", "bob@example.com"}
        self.bounces = {"alice@example.com"}

    def add_contact(
        self, email: str, first: str, last: str, *, alternate: tuple[str, ...] = ()
    ) -> str:
        cid = str(uuid.uuid4())
        self.contacts[cid] = {
            "id": cid,
            "email": email.lower(),
            "alternate_emails": [a.lower() for a in alternate],
            "first_name": first,
            "last_name": last,
            "address_line_1": "1 Rabbit Hole",
            "city": "Oxford",
            "country": "United Kingdom",
            "phone_number": "",
            "list_ids": ["ca7a3796-e8a8-4029-9ccb-df8937940562"],
            "segment_ids": [],
            "custom_fields": {},
            "created_at": "2024-03-02T15:25:47Z",
            "updated_at": "2024-03-30T15:26:16Z",
            "_metadata": {"self": f"https://api.sendgrid.com/v3/marketing/contacts/{cid}"},
        }
        return cid

    def authorize(self, request: Request) -> Reply | None:
        if not bearer(request, KEY):
            return errors(401, "authorization required")
        return None

    def missing(self, request: Request) -> Reply:
        return errors(404, "resource not found")

    @route("GET", r"/v3/scopes")
    def scopes(self, request: Request) -> Reply:
        return 200, {"scopes": ["mail.send", "alerts.create", "alerts.read"]}  # the spec's example

    @route("POST", r"/v3/marketing/contacts/search/emails")
    def search_emails(self, request: Request) -> Reply:
        emails = (request.json or {}).get("emails")
        if not isinstance(emails, list) or not 1 <= len(emails) <= SEARCH_MAX:
            return errors(400, f"emails must hold 1 to {SEARCH_MAX} addresses", "emails")
        if any("@" not in str(e) for e in emails):
            return errors(400, "email address is invalid", "emails")
        result: dict[str, Any] = {}
        for email in (str(e).lower() for e in emails):
            contact = next(
                (
                    c
                    for c in self.contacts.values()
                    if email == c["email"] or email in c["alternate_emails"]
                ),
                None,
            )
            result[email] = {"contact": contact} if contact else {"error": "contact not found"}
        if all("error" in found for found in result.values()):
            return errors(404, "No contacts found")
        return 200, {"result": result}

    @route("DELETE", r"/v3/marketing/contacts")
    def delete_contacts(self, request: Request) -> Reply:
        ids = [i for i in (request.arg("ids") or "").split(",") if i]
        if request.arg("delete_all_contacts") == "true":
            ids = list(self.contacts)
        elif not ids:
            return errors(400, "either ids or delete_all_contacts is required", "ids")

        def delete() -> None:
            for cid in ids:
                self.contacts.pop(cid, None)

        job_id = str(uuid.uuid4())
        self.jobs[job_id] = Job(list(self.progress), "completed", delete)
        return 202, {"job_id": job_id}

    @route("GET", r"/v3/marketing/contacts/imports/([\w-]+)")
    def job_status(self, request: Request, job_id: str) -> Reply:
        job = self.jobs.get(job_id)
        if job is None:
            return self.missing(request)
        status = job.status()
        answer = {
            "id": job_id,
            "status": status,
            "job_type": "delete",
            "results": {"requested_count": 1, "deleted_count": int(status == "completed")},
            "started_at": "2026-01-01T00:00:00Z",
        }
        if status != "pending":
            answer["finished_at"] = "2026-01-01T00:05:00Z"
        return 200, answer


def populated() -> tuple[FakeSendGrid, dict[str, str]]:
    """Alice (signed up as Alice@Example.com, with an alternate address), Bob, and Alicia,
    whose address starts like Alice's."""
    sendgrid = FakeSendGrid()
    people = {
        "alice": sendgrid.add_contact(
            "Alice@Example.com", "Alice", "Liddell", alternate=("a.liddell@example.org",)
        ),
        "bob": sendgrid.add_contact("bob@example.com", "Bob", "Builder"),
        "alicia": sendgrid.add_contact("alice@example.com.au", "Alicia", "Keys"),
    }
    return sendgrid, people
