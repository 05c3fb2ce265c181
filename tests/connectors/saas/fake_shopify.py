"""A Shopify shop as the Admin API describes what the template uses: REST customers search
and orders (``limit`` ≤ 250, cursor pages through ``Link: <…page_info=…>; rel="next"``, and a
``page_info`` request carries nothing but ``limit``), a customer read and updated as
``{"customer": {…}}``, the ``X-Shopify-Access-Token`` header, ``{"errors": …}`` bodies; and
the GraphQL mutation ``customerRequestDataErasure``, which only enqueues the erasure and
answers ``{customerId, userErrors}`` (or top-level ``errors``) with a 200. Shopify carries the
erasure out later on its own clock: ``run_erasures()`` plays that, removing the customer and
redacting the personal data of its orders, which stay.

Request and answer shapes follow Shopify's REST resources and their recorded examples in
github.com/Shopify/shopify-app-js (packages/apps/shopify-api/rest/admin/2026-01). Not
confirmed there, so written here as the fake's own: the body of a 400 for a ``page_info``
request with other parameters, and the wording of an access-denied GraphQL error."""

from __future__ import annotations

import itertools
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from .vendor_server import Fake, Reply, Request, route

TOKEN = "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"
VERSION = "2026-01"
API = f"/admin/api/{VERSION}"
ERASURE = re.compile(r"\bcustomerRequestDataErasure\s*\(\s*customerId\s*:\s*\$customerId\s*\)")
SCOPES = {"read_customers", "write_customers", "read_orders", "read_all_orders",
          "write_customer_data_erasure"}  # fmt: skip
NOT_FOUND: Reply = (404, {"errors": "Not Found"})


class FakeShopify(Fake):
    def __init__(self) -> None:
        self.customers: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.erasure_requested: list[int] = []  # in the order asked, once each
        self.erased: list[int] = []
        self.scopes = set(SCOPES)
        self._cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self._ids = itertools.count(207119551)

    # -- data ---------------------------------------------------------------------
    def add_customer(self, email: str, first: str, last: str) -> int:
        cid = next(self._ids)
        address = {"customer_id": cid, "first_name": first, "last_name": last,
                   "address1": "Chestnut Street 92", "city": "Louisville", "zip": "40202",
                   "country_code": "US", "phone": "555-625-1199", "default": True}  # fmt: skip
        self.customers[cid] = {
            "id": cid,
            "email": email,
            "first_name": first,
            "last_name": last,
            "phone": None,
            "state": "enabled",
            "note": None,
            "verified_email": True,
            "tags": "",
            "currency": "USD",
            "orders_count": 0,
            "addresses": [address],
            "default_address": address,
            "email_marketing_consent": {"state": "not_subscribed", "opt_in_level": None},
            "created_at": "2025-04-02T11:29:59-05:00",
            "updated_at": "2025-04-02T11:29:59-05:00",
            "admin_graphql_api_id": f"gid://shopify/Customer/{cid}",
        }
        return cid

    def add_orders(self, cid: int, n: int, **fields: Any) -> None:
        customer = self.customers[cid]
        for _ in range(n):
            oid = next(self._ids)
            customer["orders_count"] += 1
            self.orders[oid] = {
                "id": oid,
                "admin_graphql_api_id": f"gid://shopify/Order/{oid}",
                "name": f"#{1000 + len(self.orders)}",
                "email": customer["email"],
                "created_at": "2025-04-02T11:30:00-05:00",
                "closed_at": None,
                "cancelled_at": None,
                "financial_status": "paid",
                "total_price": "199.65",
                "currency": "USD",
                "customer": {k: customer[k] for k in ("id", "email", "first_name", "last_name")},
                "billing_address": dict(customer["default_address"]),
                "shipping_address": dict(customer["default_address"]),
                "line_items": [{"title": "IPod Nano - 8gb", "quantity": 1, "price": "199.00"}],
                **fields,
            }

    def run_erasures(self) -> None:
        """Shopify's own clock: each requested erasure is carried out."""
        for cid in self.erasure_requested:
            if self.customers.pop(cid, None) is None:
                continue
            self.erased.append(cid)
            for order in self.orders.values():
                if order["customer"] and order["customer"]["id"] == cid:
                    order.update(email=None, customer=None, billing_address=None,
                                 shipping_address=None)  # fmt: skip

    # -- API ----------------------------------------------------------------------
    def authorize(self, request: Request) -> Reply | None:
        if request.headers.get("x-shopify-access-token") != TOKEN:
            return 401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}  # fmt: skip
        return None

    def missing(self, request: Request) -> Reply:
        return NOT_FOUND

    def _page(self, request: Request, items: list[dict[str, Any]], key: str) -> Reply:
        """One page and, while more follow, a Link to the next (``page_info`` is opaque)."""
        cursor = request.arg("page_info")
        if cursor is not None:
            if set(request.query) - {"page_info", "limit", "fields"} or cursor not in self._cursors:
                return 400, {"errors": {"page_info": ["is invalid, or sent with other parameters than limit"]}}  # fmt: skip
            items, offset = self._cursors[cursor]
        else:
            offset = 0
        limit = int(request.arg("limit", "50"))
        if not 1 <= limit <= 250:
            return 400, {"errors": {"limit": ["must be between 1 and 250"]}}
        chunk, following = items[offset : offset + limit], offset + limit
        headers = {}
        if following < len(items):
            token = secrets.token_urlsafe(12)
            self._cursors[token] = (items, following)
            query = urlencode({"limit": limit, "page_info": token})
            url = f"http://{request.headers['host']}{API}/{key}.json?{query}"
            headers["Link"] = f'<{url}>; rel="next"'
        return 200, {key: chunk}, headers

    @route("GET", rf"{API}/shop\.json")
    def shop(self, request: Request) -> Reply:
        return 200, {"shop": {"id": 548380009, "name": "Acme Shop", "myshopify_domain": "acme.myshopify.com"}}  # fmt: skip

    @route("GET", rf"{API}/customers/search\.json")
    def search(self, request: Request) -> Reply:
        query = request.arg("query") or ""
        email = query.removeprefix("email:").lower() if query.startswith("email:") else None
        hits = [c for c in self.customers.values() if email and c["email"].lower() == email]
        return self._page(request, hits, "customers")

    @route("GET", rf"{API}/orders\.json")
    def list_orders(self, request: Request) -> Reply:
        items = list(self.orders.values())
        if request.arg("page_info") is None:
            customer = request.arg("customer_id")
            status = request.arg("status", "open")  # the default leaves out closed and cancelled
            items = [
                o for o in items
                if (customer is None or (o["customer"] and str(o["customer"]["id"]) == customer))
                and (status == "any" or _status(o) == status)
            ]  # fmt: skip
        return self._page(request, items, "orders")

    @route("GET", rf"{API}/customers/(\d+)\.json")
    def get_customer(self, request: Request, cid: str) -> Reply:
        customer = self.customers.get(int(cid))
        return (200, {"customer": customer}) if customer else NOT_FOUND

    @route("PUT", rf"{API}/customers/(\d+)\.json")
    def update_customer(self, request: Request, cid: str) -> Reply:
        customer = self.customers.get(int(cid))
        if customer is None:
            return NOT_FOUND
        changes = (request.json or {}).get("customer")
        if not isinstance(changes, dict):
            return 400, {"errors": {"customer": "Required parameter missing or invalid"}}
        customer.update(changes)
        return 200, {"customer": customer}

    @route("POST", rf"{API}/graphql\.json")
    def graphql(self, request: Request) -> Reply:
        body = request.json or {}
        if not ERASURE.search(body.get("query", "")):
            return 200, {"errors": [{"message": "this fake answers customerRequestDataErasure only"}]}  # fmt: skip
        if "write_customer_data_erasure" not in self.scopes:
            return 200, {
                "errors": [{
                    "message": "Access denied for customerRequestDataErasure field. "
                               "Required access: `write_customer_data_erasure` access scope.",
                    "extensions": {"code": "ACCESS_DENIED"},
                    "path": ["customerRequestDataErasure"],
                }],
                "data": {"customerRequestDataErasure": None},
            }  # fmt: skip
        gid = (body.get("variables") or {}).get("customerId", "")
        found = re.fullmatch(r"gid://shopify/Customer/(\d+)", gid)
        if not found or int(found[1]) not in self.customers:
            return 200, {"data": {"customerRequestDataErasure": {
                "customerId": None,
                "userErrors": [{"field": ["customerId"], "message": "Customer does not exist.",
                                "code": "DOES_NOT_EXIST"}],
            }}}  # fmt: skip
        if int(found[1]) not in self.erasure_requested:
            self.erasure_requested.append(int(found[1]))
        return 200, {"data": {"customerRequestDataErasure": {"customerId": gid, "userErrors": []}}}


def _status(order: dict[str, Any]) -> str:
    if order["cancelled_at"]:
        return "cancelled"
    return "closed" if order["closed_at"] else "open"


def populated() -> tuple[FakeShopify, dict[str, Any]]:
    """Alice is two customers (an old account and a new one, her address in other letter
    case): 260 orders on one (two pages of 250), some closed or cancelled, 2 on the other.
    Bob and alice@example.com.au are other people."""
    shop = FakeShopify()
    old = shop.add_customer("alice@example.com", "Alice", "Liddell")
    new = shop.add_customer("Alice@Example.com", "Alice", "Liddell")
    shop.add_orders(old, 250)
    shop.add_orders(old, 6, closed_at="2025-05-01T10:00:00-05:00")
    shop.add_orders(old, 4, cancelled_at="2025-05-02T10:00:00-05:00")
    shop.add_orders(new, 2)
    bob = shop.add_customer("bob@example.com", "Bob", "Norman")
    shop.add_orders(bob, 5)
    alicia = shop.add_customer("alice@example.com.au", "Alicia", "Keys")
    shop.add_orders(alicia, 1)
    return shop, {"alice": {old, new}, "bob": bob, "alicia": alicia}
