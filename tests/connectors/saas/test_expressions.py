"""The ``{{ ... }}`` placeholders: paths and named filters, nothing that could run code."""

from __future__ import annotations

import hashlib

import pytest

from connectors.saas.expressions import ExpressionError, Missing, Scope, parse


@pytest.fixture
def scope() -> Scope:
    return Scope(
        {
            "subject": {"email": "Alice@Example.com", "customer_id": "../../admin"},
            "config": {"list_id": "a1b2", "kind": "customer_id"},
            "secrets": {"key": "s3cret-key"},
            "customer": {"id": "cus_1", "amounts": [5, 7], "address": {"city": "Oxford"}},
        }
    )


def test_filters_chain_left_to_right(scope):
    md5 = hashlib.md5(b"alice@example.com", usedforsecurity=False).hexdigest()

    assert scope.render("{{ subject.email | lower | md5 }}") == md5
    assert scope.render("{{ subject.email | upper }}") == "ALICE@EXAMPLE.COM"
    assert scope.render("{{subject.email|urlencode}}") == "Alice%40Example.com"


def test_a_placeholder_alone_keeps_its_type_and_text_around_it_makes_a_string(scope):
    assert scope.render("{{ customer.amounts }}") == [5, 7]
    assert scope.render("{{ customer.amounts.1 }}") == 7
    assert scope.render("city: {{ customer.address.city }}!") == "city: Oxford!"
    assert scope.render({"a": ["{{ config.list_id }}"], "n": 3}) == {"a": ["a1b2"], "n": 3}


def test_a_key_can_come_from_another_path(scope):
    assert scope.render("{{ subject[config.kind] }}") == "../../admin"


def test_in_a_request_path_every_value_is_one_encoded_segment(scope):
    rendered = scope.render("/customers/{{ subject.customer_id }}/x", segment=True)

    assert rendered == "/customers/..%2F..%2Fadmin/x"


def test_what_personal_values_and_secrets_render_to_is_noted_for_scrubbing(scope):
    scope.render("{{ subject.email | lower | md5 }} {{ secrets.key }} {{ config.list_id }}")

    md5 = hashlib.md5(b"alice@example.com", usedforsecurity=False).hexdigest()
    assert {"Alice@Example.com", "alice@example.com", md5, "s3cret-key"} <= scope.sensitive
    assert "a1b2" not in scope.sensitive


def test_an_absent_value_names_the_path_not_a_value(scope):
    with pytest.raises(Missing) as absent:
        scope.render("{{ subject.phone }}")

    assert (absent.value.what, absent.value.root) == ("subject.phone", "subject")


@pytest.mark.parametrize(
    "text",
    ["__import__('os').system('id')", "subject.email | exec", "customer.id + 1", "a[b", ".a"],
)
def test_anything_but_a_path_and_known_filters_is_refused(text):
    with pytest.raises(ExpressionError):
        parse(text)


@pytest.mark.parametrize(
    ("given", "literal"),
    [
        ("alice@example.com", "alice@example.com"),
        ("o'brien@example.com", "o\\'brien@example.com"),
        ("x' OR Email != '", "x\\' OR Email != \\'"),
        ("back\\slash@example.com", "back\\\\slash@example.com"),
        ('a"b\nc\td\x07e', 'a\\"b\\nc\\td\\u0007e'),
    ],
)
def test_soql_escapes_what_would_end_or_break_a_quoted_string(given, literal):
    scope = Scope({"subject": {"email": given}})

    rendered = scope.render("WHERE Email = '{{ subject.email | soql }}'")

    assert rendered == f"WHERE Email = '{literal}'"


def test_last_segment_takes_the_id_at_the_end_of_a_global_id():
    scope = Scope({"id": "gid://shopify/Customer/207119551"})

    assert scope.render("/customers/{{ id | last_segment }}.json", segment=True) == (
        "/customers/207119551.json"
    )
