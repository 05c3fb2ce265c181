"""Salesforce as the REST API Developer Guide describes it, for what the template uses: the
OAuth 2.0 client credentials flow at ``/services/oauth2/token`` (form-encoded, client id and
secret in the body, no ``expires_in`` in the answer), SOQL queries of the shape
``SELECT <fields> FROM <object> WHERE Email = '<literal>'`` with SOQL's quoted-string escapes,
answers in batches (``Sforce-Query-Options: batchSize=`` 200..2000, default 2000) with
``totalSize``, ``done`` and ``nextRecordsUrl``, sObject rows deleted (to the Recycle Bin) and
updated with ``204``, and errors as a list of ``{message, errorCode}``.

The token endpoint's error bodies (``invalid_client_id``, ``invalid_client``) are as commonly
reported, not quoted from a Salesforce page; see the template's header."""

from __future__ import annotations

import itertools
import re
from typing import Any

from .vendor_server import Fake, Reply, Request, Tokens, route

CLIENT_ID = "3MVG9fakeConsumerKeyForTheDsrHandler.acmeOrg"
CLIENT_SECRET = "8A4BE698BCA216718ECB0B1DCA294C69FAKE"
VERSION = "v64.0"
BASE = f"/services/data/{VERSION}"
PREFIXES = {"Contact": "003", "Lead": "00Q"}
STANDARD_FIELDS = {
    "Contact": ["Id", "IsDeleted", "FirstName", "LastName", "Name", "Email", "Phone",
                "MobilePhone", "Title", "MailingCity", "MailingCountry", "AccountId", "OwnerId",
                "CreatedDate", "LastModifiedDate"],
    "Lead": ["Id", "IsDeleted", "FirstName", "LastName", "Name", "Email", "Phone", "Company",
             "City", "Country", "Status", "IsConverted", "OwnerId", "CreatedDate",
             "LastModifiedDate"],
}  # fmt: skip
_QUERY = re.compile(
    r"SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)\s+"
    r"WHERE\s+Email\s*=\s*'(?P<literal>(?:[^'\\]|\\.)*)'",
    re.IGNORECASE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_ESCAPES |= {k.upper(): v for k, v in _ESCAPES.items()} | {c: c for c in "\"'\\"}


def errors(status: int, code: str, message: str) -> Reply:
    return status, [{"message": message, "errorCode": code, "fields": []}]


def unescape(literal: str) -> str | None:
    """A SOQL quoted string's value; None for a backslash SOQL does not allow there."""
    out, chars = [], iter(literal)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        escaped = next(chars, "")
        if escaped in _ESCAPES:
            out.append(_ESCAPES[escaped])
        elif escaped == "u":
            digits = "".join(next(chars, "") for _ in range(4))
            if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                return None
            out.append(chr(int(digits, 16)))
        else:
            return None
    return "".join(out)


class FakeSalesforce(Fake):
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}  # id → record, with "attributes"
        self.recycle_bin: set[str] = set()
        self.tokens = Tokens(prefix="00DFAKE0000000!AQ4AQFakeSessionId")
        self._locators: dict[str, list[str]] = {}
        self._serial = itertools.count(1)

    # -- data ---------------------------------------------------------------------
    def add(self, sobject: str, email: str, first: str, last: str, **more: Any) -> str:
        rid = f"{PREFIXES[sobject]}Dn{next(self._serial):010d}AAA"  # 18 characters
        fields = dict.fromkeys(STANDARD_FIELDS[sobject])
        fields.update(
            Id=rid,
            IsDeleted=False,
            FirstName=first,
            LastName=last,
            Name=f"{first} {last}",
            Email=email,
            OwnerId="005Dn000000OwnerAAA",
            CreatedDate="2025-03-04T10:00:00.000+0000",
            LastModifiedDate="2025-03-04T10:00:00.000+0000",
            **more,
        )
        fields["attributes"] = {"type": sobject, "url": f"{BASE}/sobjects/{sobject}/{rid}"}
        self.records[rid] = fields
        return rid

    def live(self, sobject: str) -> list[dict[str, Any]]:
        return [
            r
            for rid, r in self.records.items()
            if r["attributes"]["type"] == sobject and rid not in self.recycle_bin
        ]

    # -- OAuth --------------------------------------------------------------------
    @route("POST", r"/services/oauth2/token")
    def token(self, request: Request) -> Reply:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}  # fmt: skip
        if form.get("client_id") != CLIENT_ID:
            return 400, {"error": "invalid_client_id", "error_description": "client identifier invalid"}  # fmt: skip
        if form.get("client_secret") != CLIENT_SECRET:
            return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}  # fmt: skip
        return 200, {
            "access_token": self.tokens.issue(),
            "signature": "nUFHwtfIGLKDTHcLWmDBG8frv0t+HQGl/iCZFIQUarE=",
            "token_format": "opaque",
            "scope": "api",
            "instance_url": "https://acme.my.salesforce.com",
            "id": "https://login.salesforce.com/id/00DFAKE0000000/005Dn000000OwnerAAA",
            "token_type": "Bearer",
            "issued_at": "1767225600000",
        }

    def authorize(self, request: Request) -> Reply | None:
        if request.path == "/services/oauth2/token" or self.tokens.bearer(request):
            return None
        return errors(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def missing(self, request: Request) -> Reply:
        return errors(404, "NOT_FOUND", "The requested resource does not exist")

    # -- REST ---------------------------------------------------------------------
    @route("GET", rf"{BASE}/?")
    def resources(self, request: Request) -> Reply:
        return 200, {name: f"{BASE}/{name}" for name in ("sobjects", "query", "queryAll", "limits")}

    @route("GET", rf"{BASE}/query/?")
    def query(self, request: Request) -> Reply:
        soql = request.arg("q") or ""
        parsed = _QUERY.fullmatch(soql.strip())
        email = unescape(parsed["literal"]) if parsed else None
        if parsed is None or email is None:
            return errors(400, "MALFORMED_QUERY", "unexpected token or invalid escape in query")
        sobject = parsed["object"]
        if sobject not in PREFIXES:
            return errors(400, "INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
        wanted = [f.strip() for f in parsed["fields"].split(",")]
        if wanted == ["FIELDS(STANDARD)"]:
            wanted = STANDARD_FIELDS[sobject]
        unknown = [f for f in wanted if f not in STANDARD_FIELDS[sobject]]
        if unknown:
            return errors(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{sobject}'")  # fmt: skip
        # the = operator compares strings without regard to letter case
        hits = [r for r in self.live(sobject) if (r["Email"] or "").lower() == email.lower()]
        rows = [{"attributes": r["attributes"], **{f: r[f] for f in wanted}} for r in hits]
        locator = f"01gDn0000{next(self._serial):07d}"
        self._locators[locator] = rows  # type: ignore[assignment]
        return self._batch(request, locator, 0)

    @route("GET", rf"{BASE}/query/(01g[A-Za-z0-9]+)-(\d+)")
    def query_more(self, request: Request, locator: str, offset: str) -> Reply:
        if locator not in self._locators:
            return errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._batch(request, locator, int(offset))

    def _batch(self, request: Request, locator: str, offset: int) -> Reply:
        options = request.headers.get("sforce-query-options", "")
        size = int(re.search(r"batchSize=(\d+)", options)[1]) if "batchSize" in options else 2000
        size = min(max(size, 200), 2000)
        rows: list[dict[str, Any]] = self._locators[locator]  # type: ignore[assignment]
        batch, rest = rows[offset : offset + size], rows[offset + size :]
        answer: dict[str, Any] = {"totalSize": len(rows), "done": not rest, "records": batch}
        if rest:
            answer["nextRecordsUrl"] = f"{BASE}/query/{locator}-{offset + size}"
        return 200, answer

    @route("DELETE", rf"{BASE}/sobjects/(Contact|Lead)/(\w+)")
    def delete(self, request: Request, sobject: str, rid: str) -> Reply:
        record = self.records.get(rid)
        if record is None or record["attributes"]["type"] != sobject:
            return self.missing(request)
        if rid in self.recycle_bin:
            return errors(404, "ENTITY_IS_DELETED", "entity is deleted")
        self.recycle_bin.add(rid)
        return 204, None

    @route("PATCH", rf"{BASE}/sobjects/(Contact|Lead)/(\w+)")
    def update(self, request: Request, sobject: str, rid: str) -> Reply:
        record = self.records.get(rid)
        if record is None or record["attributes"]["type"] != sobject or rid in self.recycle_bin:
            return self.missing(request)
        changes = request.json or {}
        unknown = [f for f in changes if f not in STANDARD_FIELDS[sobject] or f in ("Id", "Name")]
        if unknown:
            return errors(400, "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {unknown[0]}.")  # fmt: skip
        record.update(changes)
        record["Name"] = f"{record['FirstName']} {record['LastName']}"
        return 204, None


def populated() -> tuple[FakeSalesforce, dict[str, set[str]]]:
    """Alice is 210 Contacts (two batches of 200) under two spellings of her address, and two
    Leads; Bob has his own; alice@example.com.au and o'brien@example.com are other people."""
    org = FakeSalesforce()
    alice = {org.add("Contact", "alice@example.com", "Alice", "Liddell") for _ in range(209)}
    alice.add(org.add("Contact", "ALICE@example.com", "Alice", "L."))
    alice_leads = {org.add("Lead", "alice@example.com", "Alice", "Liddell", Company="Wonderland")
                   for _ in range(2)}  # fmt: skip
    bob = {org.add("Contact", "bob@example.com", "Bob", "Builder") for _ in range(3)}
    bob.add(org.add("Lead", "bob@example.com", "Bob", "Builder", Company="Builders"))
    alicia = {org.add("Contact", "alice@example.com.au", "Alicia", "Keys")}
    obrien = {org.add("Lead", "o'brien@example.com", "Pat", "O'Brien", Company="Pub")}
    people = {"alice": alice, "alice_leads": alice_leads, "bob": bob, "alicia": alicia,
              "obrien": obrien}  # fmt: skip
    return org, people
