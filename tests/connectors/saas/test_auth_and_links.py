"""Auth kinds and Link-header paging, against a made-up vendor served from a template in
a folder named by DSR_TEMPLATE_DIRS (so this also shows the connector finds it there)."""

from __future__ import annotations

import time

import pytest

from connectors.base import ConnectorError

from .fake_acme import AUTHS, SECRETS, TEMPLATE, FakeAcme
from .vendor_server import VendorServer


def serve(auth: str, tmp_path, monkeypatch) -> VendorServer:
    (tmp_path / "acme.yaml").write_text(TEMPLATE.replace("AUTH", AUTHS[auth]))
    monkeypatch.setenv("DSR_TEMPLATE_DIRS", str(tmp_path))
    return VendorServer(FakeAcme(auth))


@pytest.fixture
def oauth(tmp_path, monkeypatch):
    with serve("oauth", tmp_path, monkeypatch) as server:
        yield server


def test_a_client_credentials_token_is_fetched_once_and_reused(oauth, connect, alice):
    connector = connect("acme", oauth.url, SECRETS)

    connector.locate(alice)
    connector.locate(alice)

    tokens = oauth.calls("POST", "/oauth/token")
    assert len(tokens) == 1
    assert tokens[0].form == {"grant_type": "client_credentials", "scope": "people.read"}
    people = oauth.calls("GET", "/api/people")
    assert len(people) == 6 and {p.headers["authorization"] for p in people} == {"Bearer tok-1"}


def test_a_token_is_fetched_again_when_it_is_about_to_expire(oauth, connect, alice):
    oauth.fake.lifetime = 1
    connector = connect("acme", oauth.url, SECRETS)
    connector.locate(alice)

    time.sleep(1.0)
    connector.locate(alice)

    assert oauth.fake.tokens.issued == ["tok-1", "tok-2"]
    assert oauth.calls("GET", "/api/people")[-1].headers["authorization"] == "Bearer tok-2"


def test_a_revoked_token_is_renewed_once_on_a_401(oauth, connect, alice):
    connector = connect("acme", oauth.url, SECRETS)
    connector.locate(alice)
    oauth.fake.tokens.valid.clear()  # revoked at the vendor before it expired

    found = connector.locate(alice)

    assert found.by_category == {"people": 120}
    assert oauth.fake.tokens.issued == ["tok-1", "tok-2"]


def test_a_token_refused_even_after_renewal_is_a_permanent_error(oauth, connect, alice):
    connector = connect("acme", oauth.url, SECRETS)
    oauth.fail_once((401, {"error": "invalid_token"}), when=lambda r: r.path == "/api/people")
    oauth.fail_once((401, {"error": "invalid_token"}), when=lambda r: r.path == "/api/people")

    with pytest.raises(ConnectorError) as refused:
        connector.locate(alice)

    assert refused.value.permanent and "answered 401: invalid_token" in refused.value.message
    assert len(oauth.calls("POST", "/oauth/token")) == 2


def test_a_refused_client_is_a_permanent_error_that_keeps_the_secret(oauth, connect, alice):
    connector = connect("acme", oauth.url, {**SECRETS, "client_secret": "not-the-secret-at-all"})

    with pytest.raises(ConnectorError) as refused:
        connector.locate(alice)

    assert refused.value.permanent
    assert "POST (token URL) answered 401: Client authentication failed" in refused.value.message
    assert "not-the-secret-at-all" not in refused.value.message


@pytest.mark.parametrize("auth", ["header", "query"])
def test_an_api_key_goes_where_the_template_says(auth, tmp_path, monkeypatch, connect, alice):
    with serve(auth, tmp_path, monkeypatch) as server:
        found = connect("acme", server.url, SECRETS).locate(alice)

    assert found.by_category == {"people": 120}
    first = server.requests[0]
    if auth == "header":
        assert first.headers["x-api-key"] == SECRETS["api_key"] and "api_key" not in first.query
    else:
        assert first.arg("api_key") == SECRETS["api_key"] and "x-api-key" not in first.headers


def test_link_header_paging_follows_rel_next_to_the_end(oauth, connect, alice):
    records = list(connect("acme", oauth.url, SECRETS).export(alice))

    assert len(records) == 120 and {r.fields["email"] for r in records} == {"alice@example.com"}
    pages = oauth.calls("GET", "/api/people")
    assert [p.arg("page") for p in pages] == [None, "2", "3"]


def test_a_next_link_to_another_host_is_not_followed(oauth, connect, alice):
    oauth.fake.foreign_next = "collector.evil.example/steal"

    with pytest.raises(ConnectorError) as refused:
        list(connect("acme", oauth.url, SECRETS).export(alice))

    assert refused.value.permanent and "another host; not followed" in refused.value.message
    assert len(oauth.calls("GET", "/api/people")) == 1
