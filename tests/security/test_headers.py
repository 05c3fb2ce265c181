"""Every kind of page carries the security headers, and no page needs an inline script or style.

The Content-Security-Policy allows only our own files: no inline <script>, <style> or
style="" (the bundle's offline index.html is a file in the download, never served, so it
keeps its own styles). A browser checks the same in tests/e2e/test_csp.py.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from dsr.core.models import Kind, Status
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

CSP = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}
HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}
BLOCKED_FEATURES = {"camera", "microphone", "geolocation", "payment", "usb", "display-capture"}


def directives(header: str) -> dict[str, set[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = set(values)
    return parsed


class InlineCode(HTMLParser):
    """Finds what a strict CSP would block: inline scripts and styles, and the links to files."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.files: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "style":
            self.inline.append("<style>")
        if "style" in attrs:
            self.inline.append(f"<{tag} style={attrs['style']!r}>")
        self.inline += [f"<{tag} {name}=…>" for name in attrs if name.startswith("on")]
        if tag == "script":
            if attrs.get("src"):
                self.files.append(attrs["src"])
            else:
                self._in_script = attrs.get("type") not in {"application/json", "application/ld+json"}
        if tag == "link" and attrs.get("rel") in {"stylesheet", "icon"}:
            self.files.append(attrs["href"])
        if tag == "a" and (attrs.get("href") or "").startswith("javascript:"):
            self.inline.append("<a href=javascript:…>")

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(f"<script>{data.strip()[:40]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


@pytest.fixture
def pages(client, desk_login, verified_request):
    """One URL of each kind of page, with the client that may see it."""
    created, verified = verified_request()
    reference, token = created["reference"], verified["status_token"]
    erasure = RequestFactory(kind=Kind.ERASURE, status=Status.VERIFIED)
    anonymous = Client()
    desk_login("officer")  # logs ``client`` in
    return {
        "public form": (anonymous, "/", {}),
        "status page": (anonymous, f"/requests/{reference}/?t={token}", {}),
        "not found": (anonymous, "/requests/DSR-0000-0000/verify/", {}),
        "desk login": (anonymous, "/desk/login/", {}),
        "desk queue": (client, "/desk/", {}),
        "desk request": (client, f"/desk/requests/{erasure.pk}/", {}),
        "report": (client, "/desk/reports/", {}),
        "ccpa report": (client, "/desk/reports/ccpa/", {}),
        "certificate": (client, f"/desk/requests/{erasure.pk}/certificate/", {}),
        "admin login": (anonymous, "/admin/login/", {}),
        "api docs": (anonymous, "/api/docs/", {}),
        "api docs script": (anonymous, "/api/docs/?script=", {}),
        "api schema": (anonymous, "/api/schema/", {}),
        "api json": (anonymous, f"/api/v1/requests/{reference}/", {"HTTP_AUTHORIZATION": f"Bearer {token}"}),
    }


def test_every_kind_of_page_carries_the_security_headers(pages):
    for name, (client, url, extra) in pages.items():
        response = client.get(url, secure=True, **extra)
        expected_status = 404 if name == "not found" else 200
        assert response.status_code == expected_status, (name, response.status_code)
        for header, value in HEADERS.items():
            assert response.headers.get(header) == value, (name, header, response.headers.get(header))
        expected = CSP
        if name.startswith("api docs"):  # Swagger UI's stylesheet draws its icons as data: images
            expected = {**CSP, "img-src": {"'self'", "data:"}}
        assert directives(response.headers["Content-Security-Policy"]) == expected, name
        policy = dict(item.strip().split("=", 1) for item in response.headers["Permissions-Policy"].split(","))
        assert set(policy.values()) == {"()"}, name
        assert BLOCKED_FEATURES <= set(policy), name


def test_no_answer_carrying_personal_data_is_cached(pages, client, verified_request):
    for name, (caller, url, extra) in pages.items():
        response = caller.get(url, secure=True, **extra)
        assert "no-store" in response.headers.get("Cache-Control", ""), name
    # A download, and the public and officer APIs' other answers, too.
    created, verified = verified_request(email="bea@example.com")
    token = verified["status_token"]
    assert "no-store" in client.post(f"/api/v1/requests/{created['reference']}/download/", {"code": "123456"},
                                     content_type="application/json",
                                     HTTP_AUTHORIZATION=f"Bearer {token}")["Cache-Control"]
    assert "no-store" in client.get("/api/v1/desk/requests/")["Cache-Control"]
    assert "no-store" in client.get(f"/requests/{created['reference']}/", {"t": token})["Cache-Control"]


def test_our_own_static_files_and_answers_that_say_so_may_be_cached(rf):
    from django.http import HttpResponse

    from dsr.web.private import NoStore

    plain = NoStore(lambda request: HttpResponse())
    assert "Cache-Control" not in plain(rf.get("/static/dsr/public.css"))
    assert "no-store" in plain(rf.get("/requests/DSR-0000-0000/"))["Cache-Control"]
    kept = HttpResponse()
    kept["Cache-Control"] = "max-age=60"
    assert NoStore(lambda request: kept)(rf.get("/api/schema/"))["Cache-Control"] == "max-age=60"


def test_hsts_is_sent_over_https_only(client):
    assert "Strict-Transport-Security" not in client.get("/", secure=False).headers
    assert client.get("/", secure=True).headers["Strict-Transport-Security"].startswith("max-age=")


def test_an_early_refusal_carries_the_headers_too(client, settings):
    """A body over the limit is refused before the views run, and still gets the headers."""
    response = client.post("/api/v1/requests/", data=b"{}", content_type="application/json",
                           CONTENT_LENGTH=str(settings.DSR_MAX_BODY_BYTES + 1), secure=True)
    assert response.status_code == 413
    assert response.headers["X-Frame-Options"] == "DENY"
    assert directives(response.headers["Content-Security-Policy"]) == CSP


def test_no_page_needs_inline_script_or_style_and_every_file_it_links_ships(pages):
    for name, (client, url, extra) in pages.items():
        response = client.get(url, secure=True, **extra)
        if not response["Content-Type"].startswith("text/html"):
            continue
        found = InlineCode()
        found.feed(response.content.decode())
        assert found.inline == [], (name, found.inline)
        assert found.files, name  # every page is styled from a file
        for link in found.files:
            assert link.startswith("/") and not link.startswith("//"), (name, link)  # our own
            if link.startswith("/static/"):
                assert finders.find(link.removeprefix("/static/")), (name, link)
            else:  # the API docs' start-up script, served by its view
                assert client.get(link, secure=True, **extra).status_code == 200, (name, link)


def test_no_served_template_holds_inline_script_or_style():
    """Pages not fetched above (errors, emails' web cousins) are checked as templates."""
    served = [
        path for path in TEMPLATES.rglob("*.html")
        if path.relative_to(TEMPLATES).parts[0] not in {"emails", "bundle"}
    ]
    assert len(served) > 15
    for path in served:
        found = InlineCode()
        found.feed(path.read_text())
        assert found.inline == [], (path, found.inline)
