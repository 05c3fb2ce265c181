"""The address rate limits count a request under, with and without a reverse proxy."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from dsr.web.ratelimit import NO_ADDRESS, client_ip


def _request(remote: str = "203.0.113.9", forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_proxies_the_connection_is_the_client_and_the_header_is_ignored(settings):
    settings.DSR_TRUSTED_PROXIES = 0
    assert client_ip(_request(forwarded="198.51.100.1")) == "203.0.113.9"


@pytest.mark.parametrize(("hops", "forwarded", "expected"), [
    (1, "198.51.100.7", "198.51.100.7"),
    # a client that writes its own header cannot choose its address
    (1, "1.2.3.4, 198.51.100.7", "198.51.100.7"),
    (2, "1.2.3.4, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
    (1, "2001:db8::1", "2001:db8::1"),
    # missing, short or garbled headers fall back to the connection's address
    (1, "", "203.0.113.9"),
    (2, "198.51.100.7", "203.0.113.9"),
    (1, "not-an-address", "203.0.113.9"),
])
def test_behind_trusted_proxies_the_outermost_proxys_view_is_used(settings, hops, forwarded, expected):
    settings.DSR_TRUSTED_PROXIES = hops
    assert client_ip(_request(forwarded=forwarded)) == expected


def test_a_request_with_no_address_shares_one_budget_instead_of_failing(settings):
    settings.DSR_TRUSTED_PROXIES = 0
    assert client_ip(_request(remote="")) == NO_ADDRESS


@pytest.mark.django_db
def test_filing_over_a_unix_socket_with_no_address_is_limited_not_a_server_error(settings, api):
    settings.DSR_TRUSTED_PROXIES = 0
    settings.DSR_RATE_SUBMIT_PER_IP = "2/h"
    codes = [
        api.post("/api/v1/requests/", {"kind": "access", "email": f"p{i}@example.com", "country": "DE"},
                 format="json", REMOTE_ADDR="").status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]
