"""How the SaaS connector behaves when the vendor is slow, refuses, limits or breaks,
mostly shown against the fake Stripe (any template would do: this is the engine, not
Stripe), and how each vendor's refusal of a wrong credential is reported."""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import quote

import pytest

from connectors.base import ConnectorError, Subject
from connectors.saas.client import retry_after

from . import (
    fake_auth0,
    fake_braze,
    fake_hubspot,
    fake_intercom,
    fake_klaviyo,
    fake_mailchimp,
    fake_segment,
    fake_sendgrid,
    fake_shopify,
    fake_stripe,
    fake_zendesk,
)
from .vendor_server import VendorServer, serving

KEY = fake_stripe.KEY


def stripe_error(status: int, message: str):
    return status, {"error": {"type": "api_error", "message": message}}


def test_a_short_429_is_waited_out(stripe, connect, alice):
    connector = connect("stripe", stripe.url, {"api_key": KEY})
    stripe.fail_once((429, stripe_error(429, "Too many requests")[1], {"Retry-After": "1"}))

    started = time.monotonic()
    found = connector.locate(alice)

    assert time.monotonic() - started >= 1
    assert found.by_category["customers"] == 2
    assert len(stripe.calls("GET", "/v1/customers")) == 2  # refused once, then asked again


def test_a_long_429_is_a_transient_error_saying_when(stripe, connect, alice):
    connector = connect("stripe", stripe.url, {"api_key": KEY})
    stripe.fail_once((429, stripe_error(429, "Too many requests")[1], {"Retry-After": "120"}))

    with pytest.raises(ConnectorError) as limited:
        connector.locate(alice)

    assert not limited.value.permanent
    assert "429" in limited.value.message and "wait 120 s (until" in limited.value.message


def test_a_refused_key_fails_permanently_with_the_vendors_message(stripe, connect, alice):
    wrong = "sk_test_51Hx9KqLkdIwHu7ixWRONGKEY"
    connector = connect("stripe", stripe.url, {"api_key": wrong})

    with pytest.raises(ConnectorError) as refused:
        connector.locate(alice)

    assert refused.value.permanent
    assert "GET /v1/customers answered 401: Invalid API Key provided" in refused.value.message
    assert "check the system's secrets" in refused.value.message
    assert wrong not in refused.value.message


def test_check_uses_the_declared_cheap_endpoint_and_reports_a_refusal(stripe, connect):
    connect("stripe", stripe.url, {"api_key": KEY}).check()
    assert stripe.calls("GET", "/v1/customers")[0].arg("limit") == "1"

    with pytest.raises(ConnectorError) as refused:
        connect("stripe", stripe.url, {"api_key": "sk_test_nope_nope_nope"}).check()
    assert refused.value.permanent


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_transient(stripe, connect, alice, status):
    connector = connect("stripe", stripe.url, {"api_key": KEY})
    stripe.fail_once(stripe_error(status, "An unknown error occurred"))

    with pytest.raises(ConnectorError) as broken:
        connector.locate(alice)

    assert not broken.value.permanent and f"answered {status}" in broken.value.message


def test_a_client_error_is_permanent(stripe, connect, alice):
    connector = connect("stripe", stripe.url, {"api_key": KEY})
    stripe.fail_once(stripe_error(400, "Received unknown parameter: emial"))

    with pytest.raises(ConnectorError) as refused:
        connector.locate(alice)

    assert refused.value.permanent and "Received unknown parameter" in refused.value.message


def test_a_timeout_is_transient(stripe, connect, alice):
    connector = connect("stripe", stripe.url, {"api_key": KEY}, timeout=0.2)
    stripe.delay = 2

    with pytest.raises(ConnectorError) as slow:
        connector.locate(alice)

    assert not slow.value.permanent and "did not answer within 0.2s" in slow.value.message


def test_an_unreachable_vendor_is_transient(connect, alice):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    connector = connect("stripe", f"http://127.0.0.1:{port}", {"api_key": KEY})

    with pytest.raises(ConnectorError) as unreachable:
        connector.locate(alice)

    assert not unreachable.value.permanent and "cannot reach" in unreachable.value.message


def test_a_list_longer_than_the_page_cap_stops_with_a_clear_error(stripe, connect, alice):
    connector = connect("stripe", stripe.url, {"api_key": KEY}, max_pages=1)

    with pytest.raises(ConnectorError) as capped:
        connector.locate(alice)

    assert capped.value.permanent
    assert "GET /v1/charges: more than 1 pages" in capped.value.message
    # one page for the customer with 20 charges; the one with 130 stops after its first page
    assert len(stripe.calls("GET", "/v1/charges")) == 2


def test_a_base_url_with_a_path_prefix_is_used_for_every_request(connect, alice):
    fake, _ = fake_stripe.populated()
    with VendorServer(fake, prefix="/proxy/stripe") as server:
        connector = connect("stripe", server.url, {"api_key": KEY})

        records = list(connector.export(alice))

    assert len(records) == 197
    assert all(r.raw_path.startswith("/proxy/stripe/v1/") for r in server.requests)


def test_no_more_requests_run_at_once_than_the_concurrency_allows(stripe, connect):
    connector = connect("stripe", stripe.url, {"api_key": KEY}, concurrency=2)
    stripe.delay = 0.5  # long enough that every thread is waiting while two are in flight
    people = [Subject(f"req-{n}", {"email": f"p{n}@example.com"}) for n in range(6)]
    threads = [threading.Thread(target=connector.locate, args=(p,)) for p in people]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(stripe.requests) == 6 and stripe.most_in_flight == 2


def test_messages_and_logs_hold_no_identifier_and_no_secret(connect, alice, caplog):
    """A vendor that echoes what it was sent: the e-mail (as given, and URL-encoded), the
    subscriber hash made from it, and the API key."""
    fake, _ = fake_mailchimp.populated()
    subscriber = hashlib.md5(b"alice@example.com", usedforsecurity=False).hexdigest()
    echoed = (
        f"member {subscriber} (Alice@Example.com) refused with key {fake_mailchimp.KEY}; "
        f"see {quote('alice@example.com')}"
    )
    caplog.set_level(logging.DEBUG)
    with VendorServer(fake, prefix="/3.0") as server:
        connector = connect(
            "mailchimp",
            server.url,
            {"api_key": fake_mailchimp.KEY},
            dc="us21",
            list_id=fake_mailchimp.LIST,
        )
        server.fail_once((400, {"title": "Invalid Resource", "status": 400, "detail": echoed}))

        with pytest.raises(ConnectorError) as refused:
            connector.locate(alice)

    message = refused.value.message
    assert "member [redacted] ([redacted]) refused with key [redacted]; see [redacted]" in message
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "127.0.0.1" in logged  # httpx still logs each request, by host only
    for text in (message, str(refused.value), logged):
        for secret in (
            "alice@example.com",
            quote("alice@example.com"),
            subscriber,
            fake_mailchimp.KEY,
        ):
            assert secret.lower() not in text.lower()


VENDORS = {  # template: (fake, secrets, settings, the vendor's words for a wrong credential)
    "sendgrid": (
        fake_sendgrid.populated,
        {"api_key": fake_sendgrid.KEY},
        {},
        "authorization required",
    ),
    "stripe": (fake_stripe.populated, {"api_key": fake_stripe.KEY}, {}, "Invalid API Key provided"),
    "braze": (
        fake_braze.populated,
        {"api_key": fake_braze.KEY},
        {"rest_host": "rest.iad-01.braze.com"},
        "Invalid API key",
    ),
    "hubspot": (
        fake_hubspot.populated,
        {"access_token": fake_hubspot.TOKEN},
        {},
        "Authentication credentials not found",
    ),
    "intercom": (
        fake_intercom.populated,
        {"access_token": fake_intercom.TOKEN},
        {},
        "Access Token Invalid",
    ),
    "klaviyo": (
        fake_klaviyo.populated,
        {"api_key": fake_klaviyo.KEY},
        {},
        "Missing or invalid authorization scheme",
    ),
    "mailchimp": (
        fake_mailchimp.populated,
        {"api_key": fake_mailchimp.KEY},
        {"dc": "us21", "list_id": fake_mailchimp.LIST},
        "Your API key may be invalid",
    ),
    "zendesk": (
        fake_zendesk.populated,
        {"api_token": fake_zendesk.TOKEN},
        {"subdomain": "acme", "agent_email": fake_zendesk.AGENT},
        "Couldn't authenticate you",
    ),
    "segment": (
        lambda: (fake_segment.FakeSegment(), {}),
        {"token": fake_segment.TOKEN},
        {},
        "Unauthorized",
    ),
    "shopify": (
        fake_shopify.populated,
        {"access_token": fake_shopify.TOKEN},
        {"shop": "acme"},
        "Invalid API key or access token",
    ),
    "auth0": (  # refused at the token endpoint
        fake_auth0.populated,
        {"client_id": fake_auth0.CLIENT_ID, "client_secret": fake_auth0.CLIENT_SECRET},
        {"domain": fake_auth0.DOMAIN},
        "POST (token URL) answered 401: Unauthorized",
    ),
}


@pytest.mark.parametrize("template", sorted(VENDORS))
def test_each_template_checks_its_credentials_and_reports_a_refusal_in_the_vendors_words(
    template, connect
):
    populated_fake, secrets, settings, words = VENDORS[template]
    prefix = "/3.0" if template == "mailchimp" else ""
    wrong = {name: value[:-4] + "XXXX" for name, value in secrets.items()}
    with serving(populated_fake, prefix=prefix) as server:
        connect(template, server.url, secrets, **settings).check()

        with pytest.raises(ConnectorError) as refused:
            connect(template, server.url, wrong, **settings).check()

    assert refused.value.permanent and "answered 401" in refused.value.message
    assert words in refused.value.message
    assert all(value not in refused.value.message for value in wrong.values())


@pytest.mark.parametrize(("header", "seconds"), [
    ("2", 2.0), ("2.0", 2.0), ("0.5", 0.5),  # Shopify sends a decimal number of seconds
    ("²", None), ("-1", None), ("soon", None), ("", None), (None, None),
])
def test_retry_after_reads_seconds_and_nothing_else(header, seconds):
    assert retry_after(header) == seconds


def test_retry_after_reads_an_http_date():
    assert 0 < retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)) <= 30
