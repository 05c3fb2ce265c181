"""Stripe as its API reference describes it (https://docs.stripe.com/api), for the paths the
template uses: cursor-paged lists (``limit`` 1..100, ``starting_after``, ``has_more``),
customer delete and update, and ``{"error": {...}}`` bodies."""

from __future__ import annotations

import base64
from typing import Any

from .vendor_server import Fake, Reply, Request, page_size, route

KEY = "sk_test_51Hx9KqLkdIwHu7ixTESTKEY"


def _error(status: int, message: str, **more: str) -> Reply:
    return status, {"error": {"type": "invalid_request_error", "message": message, **more}}


class FakeStripe(Fake):
    def __init__(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.objects: dict[str, list[dict[str, Any]]] = {
            "charge": [],
            "payment_intent": [],
            "invoice": [],
            "subscription": [],
        }
        self._clock = 1_700_000_000

    # -- data ---------------------------------------------------------------------
    def add_customer(self, email: str, name: str) -> str:
        self._clock += 1
        cid = f"cus_{len(self.customers) + 1:014d}"
        self.customers[cid] = {
            "id": cid,
            "object": "customer",
            "email": email,
            "name": name,
            "phone": None,
            "created": self._clock,
            "metadata": {},
            "livemode": False,
        }
        return cid

    def add(self, kind: str, customer: str, n: int, **fields: Any) -> None:
        for _ in range(n):
            self._clock += 1
            prefix = {
                "charge": "ch",
                "payment_intent": "pi",
                "invoice": "in",
                "subscription": "sub",
            }
            oid = f"{prefix[kind]}_{self._clock}"
            record = {
                "id": oid,
                "object": kind,
                "customer": customer,
                "created": self._clock,
                "amount": 1000,
                "currency": "eur",
                **fields,
            }
            if kind == "payment_intent":
                record["client_secret"] = f"{oid}_secret_abc"
            self.objects[kind].append(record)

    def of(self, kind: str, customers: set[str]) -> list[dict[str, Any]]:
        return [o for o in self.objects[kind] if o["customer"] in customers]

    # -- API ----------------------------------------------------------------------
    def authorize(self, request: Request) -> Reply | None:
        given = request.headers.get("authorization", "")
        if given.startswith("Basic "):
            given = "Bearer " + base64.b64decode(given[6:]).decode().split(":")[0]
        if not given:
            return _error(
                401,
                "You did not provide an API key. You need to provide your API "
                "key in the Authorization header, using Bearer auth.",
            )
        if given != f"Bearer {KEY}":
            shown = given.removeprefix("Bearer ")
            return _error(401, f"Invalid API Key provided: {shown[:8]}{'*' * 12}{shown[-4:]}")
        return None

    def missing(self, request: Request) -> Reply:
        return _error(404, f"Unrecognized request URL ({request.method}: {request.path}).")

    def _list(self, request: Request, url: str, items: list[dict[str, Any]]) -> Reply:
        size = page_size(request, "limit", default=10, maximum=100)
        if isinstance(size, tuple):
            return _error(400, "This value must be less than or equal to 100.", param="limit")
        items = sorted(items, key=lambda o: o["created"], reverse=True)  # newest first
        after = request.arg("starting_after")
        if after is not None:
            ids = [o["id"] for o in items]
            if after not in ids:
                return _error(400, f"Invalid starting_after id: {after}", param="starting_after")
            items = items[ids.index(after) + 1 :]
        page = items[:size]
        return 200, {"object": "list", "url": url, "has_more": len(items) > size, "data": page}

    @route("GET", r"/v1/customers")
    def list_customers(self, request: Request) -> Reply:
        email = request.arg("email")
        found = [
            c
            for cid, c in self.customers.items()
            if cid not in self.deleted and (email is None or c["email"] == email)  # case-sensitive
        ]
        return self._list(request, "/v1/customers", found)

    @route("DELETE", r"/v1/customers/([^/]+)")
    def delete_customer(self, request: Request, cid: str) -> Reply:
        if cid not in self.customers or cid in self.deleted:
            return _error(404, f"No such customer: '{cid}'", code="resource_missing", param="id")
        self.deleted.add(cid)
        return 200, {"id": cid, "object": "customer", "deleted": True}

    @route("POST", r"/v1/customers/([^/]+)")
    def update_customer(self, request: Request, cid: str) -> Reply:
        if cid not in self.customers or cid in self.deleted:
            return _error(404, f"No such customer: '{cid}'", code="resource_missing", param="id")
        unknown = set(request.form) - {"name", "email", "phone", "description"}
        if unknown:
            return _error(400, f"Received unknown parameter: {min(unknown)}")
        self.customers[cid].update(request.form)
        return 200, self.customers[cid]

    def _by_customer(self, request: Request, kind: str, url: str) -> Reply:
        customer = request.arg("customer")
        items = [o for o in self.objects[kind] if customer is None or o["customer"] == customer]
        if kind == "subscription" and request.arg("status") != "all":
            items = [o for o in items if o.get("status") != "canceled"]
        return self._list(request, url, items)

    @route("GET", r"/v1/charges")
    def list_charges(self, request: Request) -> Reply:
        return self._by_customer(request, "charge", "/v1/charges")

    @route("GET", r"/v1/payment_intents")
    def list_payment_intents(self, request: Request) -> Reply:
        return self._by_customer(request, "payment_intent", "/v1/payment_intents")

    @route("GET", r"/v1/invoices")
    def list_invoices(self, request: Request) -> Reply:
        return self._by_customer(request, "invoice", "/v1/invoices")

    @route("GET", r"/v1/subscriptions")
    def list_subscriptions(self, request: Request) -> Reply:
        return self._by_customer(request, "subscription", "/v1/subscriptions")


def populated() -> tuple[FakeStripe, dict[str, set[str]]]:
    """Alice has two customers (one with 130 charges: two pages), Bob one, Carol one whose
    e-mail differs from Alice's only in letter case."""
    stripe = FakeStripe()
    alice = {stripe.add_customer("alice@example.com", "Alice Liddell") for _ in range(2)}
    bob = {stripe.add_customer("bob@example.com", "Bob Builder")}
    carol = {stripe.add_customer("Alice@Example.com", "Carol, not Alice")}
    first, second = sorted(alice)
    stripe.add("charge", first, 130)
    stripe.add("charge", second, 20)
    stripe.add("payment_intent", first, 30)
    stripe.add("invoice", second, 12)
    stripe.add("subscription", first, 2, status="active")
    stripe.add("subscription", first, 1, status="canceled")
    for other in (*bob, *carol):
        stripe.add("charge", other, 15)
        stripe.add("invoice", other, 3)
        stripe.add("subscription", other, 1, status="active")
    return stripe, {"alice": alice, "bob": bob, "carol": carol}
