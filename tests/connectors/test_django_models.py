"""The Django models connector on the test database: auth.User and its admin.LogEntry rows."""

from __future__ import annotations

import copy
import hashlib
import hmac
import inspect
import json
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import User

from connectors.base import ConnectorError, LocateResult, Subject
from connectors.django_models import DjangoModelsConnector, jsonable

pytestmark = pytest.mark.django_db

HASH_KEY = "pepper-for-tests"
USER = {
    "model": "auth.User",
    "identifiers": {"email": "email", "username": "username"},
    "category": "accounts",
    "exclude": ["password"],
    "erase": {
        "mode": "mask",
        "fields": {"email": "", "first_name": "", "last_login": None, "username": {"hash": True}},
    },
    "rectify": ["first_name", "last_name"],
}
LOG = {
    "model": "admin.LogEntry",
    "via": {"field": "user", "parent": "auth.User"},
    "category": "admin_log",
    "erase": {"mode": "delete"},
}
CONFIG = {"models": [LOG, USER]}  # children listed first on purpose: order is worked out


def connector(config=CONFIG, secrets=None) -> DjangoModelsConnector:
    return DjangoModelsConnector(
        name="shop",
        config=config,
        secrets={"hash_key": HASH_KEY} if secrets is None else secrets,
    )


def with_user_erase(erase: dict) -> dict:
    return {"models": [LOG, {**copy.deepcopy(USER), "erase": erase}]}


@pytest.fixture
def people():
    alice = User.objects.create_user(
        "alice", "ALICE@example.com", "secret-pw", first_name="Alice", last_name="Liddell"
    )
    alice.last_login = alice.date_joined
    alice.save()
    bob = User.objects.create_user("bob", "bob@example.com", "bob-pw", first_name="Bob")
    for user in (alice, alice, bob):
        LogEntry.objects.create(
            user=user, action_flag=ADDITION, object_repr=f"thing of {user.username}"
        )
    return alice, bob


@pytest.fixture
def subject() -> Subject:
    return Subject("req-1", {"email": "alice@example.com", "phone": "+4915100000"})


def test_check_reaches_the_tables():
    connector().check()


def test_locate_counts_the_subjects_rows_including_children(people, subject):
    assert connector().locate(subject) == LocateResult(3, {"accounts": 1, "admin_log": 2})


def test_export_gives_only_the_subjects_rows_without_excluded_fields(people, subject):
    alice, _bob = people

    records = list(connector().export(subject))

    accounts = [r.fields for r in records if r.category == "accounts"]
    logs = [r.fields for r in records if r.category == "admin_log"]
    assert [a["username"] for a in accounts] == ["alice"]
    assert "password" not in accounts[0]
    assert accounts[0]["email"] == "ALICE@example.com"  # emails match case-insensitively
    joined = alice.date_joined.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert accounts[0]["date_joined"] == joined  # DjangoJSONEncoder's form
    assert len(logs) == 2 and {entry["user_id"] for entry in logs} == {alice.pk}
    assert all(r.system == "shop" for r in records)
    assert "bob" not in json.dumps([dict(r.fields) for r in records])  # JSON-ready, no Bob


def test_export_streams(people, subject):
    assert inspect.isgenerator(connector().export(subject))


def test_values_become_json_ready_like_django_json_encoder():
    value = {
        "when": date(2026, 1, 2),
        "price": Decimal("9.90"),
        "id": UUID(int=1),
        "tags": ("a", 1),
        "raw": b"\x01",
    }
    assert jsonable(value) == {
        "when": "2026-01-02",
        "price": "9.90",
        "id": "00000000-0000-0000-0000-000000000001",
        "tags": ["a", 1],
        "raw": "01",
    }


def test_export_of_an_unknown_person_is_empty(people):
    assert list(connector().export(Subject("req-9", {"email": "nobody@example.com"}))) == []


def test_mask_erase_blanks_and_hashes_and_deletes_children(people, subject):
    alice, bob = people

    receipt = connector().erase(subject)

    assert receipt.action == "erase"
    assert receipt.affected == 3
    assert receipt.by_category == {"accounts": 1, "admin_log": 2}
    assert receipt.detail == {
        "tables": {
            "admin_log": {"mode": "delete", "before": 2, "after": 0},
            "accounts": {"mode": "mask", "before": 1, "after": 0},
        }
    }
    alice.refresh_from_db()
    expected = hmac.new(HASH_KEY.encode(), b"alice", hashlib.sha256).hexdigest()
    assert (alice.email, alice.first_name, alice.last_login) == ("", "", None)
    assert alice.last_name == "Liddell"  # not in the mask
    assert alice.username == expected
    assert LogEntry.objects.filter(user=alice).count() == 0
    bob.refresh_from_db()
    assert (bob.username, bob.email, bob.first_name) == ("bob", "bob@example.com", "Bob")
    assert LogEntry.objects.filter(user=bob).count() == 1


def test_erase_is_idempotent(people, subject):
    connector().erase(subject)

    again = connector().erase(subject)

    assert again.affected == 0
    assert again.by_category == {}
    assert again.detail["tables"]["accounts"] == {"mode": "mask", "before": 0, "after": 0}


def test_delete_erase_removes_the_rows(people, subject):
    alice, bob = people

    receipt = connector(with_user_erase({"mode": "delete"})).erase(subject)

    assert receipt.by_category == {"accounts": 1, "admin_log": 2}
    assert receipt.detail["tables"]["accounts"]["mode"] == "delete"
    assert receipt.detail["tables"]["accounts"]["after"] == 0
    assert not User.objects.filter(pk=alice.pk).exists()
    assert User.objects.filter(pk=bob.pk).exists()
    assert LogEntry.objects.count() == 1


def test_a_delete_reports_rows_removed_by_cascade(people, subject):
    only_users = {"models": [{**USER, "erase": {"mode": "delete"}}]}

    receipt = connector(only_users).erase(subject)

    assert receipt.detail["tables"]["accounts"]["cascaded"] == {"admin.LogEntry": 2}
    assert LogEntry.objects.count() == 1


def test_an_erase_that_fails_changes_nothing(people, subject):
    config = with_user_erase({"mode": "mask", "fields": {"username": ""}})
    User.objects.create(username="", email="someone-else@example.com")  # "" is taken

    with pytest.raises(ConnectorError, match="constraint") as caught:
        connector(config).erase(subject)

    assert caught.value.permanent
    assert LogEntry.objects.count() == 3  # the children's delete was rolled back too
    assert User.objects.filter(username="alice").exists()


def test_rectify_changes_allowed_fields_and_ignores_the_rest(people, subject):
    alice, bob = people

    receipt = connector().rectify(subject, {"last_name": "Hargreaves", "email": "x@example.com"})

    assert receipt.action == "rectify"
    assert (receipt.affected, receipt.by_category) == (1, {"accounts": 1})
    assert receipt.detail == {"fields": {"accounts": ["last_name"]}, "ignored": ["email"]}
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.last_name, alice.email) == ("Hargreaves", "ALICE@example.com")
    assert bob.last_name == ""


def test_rectify_refuses_a_value_the_field_does_not_accept(people, subject):
    with pytest.raises(ConnectorError, match="first_name") as caught:
        connector().rectify(subject, {"first_name": "x" * 200})
    assert caught.value.permanent


def test_hashing_without_a_hash_key_is_a_config_error():
    with pytest.raises(ConnectorError, match="hash_key") as caught:
        connector(secrets={})
    assert caught.value.permanent


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": "auth.Nobody"}, "'auth.Nobody' does not exist"),
        ({"model": "nolabel"}, "'nolabel' does not exist"),
        ({"identifiers": {"email": "e_mail"}}, "auth.User has no field 'e_mail'"),
        ({"exclude": ["pasword"]}, "no field 'pasword'"),
        ({"rectify": ["groups"]}, r"auth.User.groups is not a column \(rectify\)"),
        ({"erase": {"mode": "shred"}}, "mode must be 'delete' or 'mask'"),
        ({"erase": {"mode": "mask", "fields": {"nick": ""}}}, "no field 'nick'"),
        ({"erase": {"mode": "mask", "fields": {"email": None}}}, "email is NOT NULL"),
        ({"erase": {"mode": "mask", "fields": {"id": 0}}}, "primary key"),
        ({"identifiers": {}}, "needs identifiers"),
    ],
)
def test_a_bad_model_or_field_is_a_config_error_naming_it(change, message):
    config = {"models": [{**USER, **change}]}
    with pytest.raises(ConnectorError, match=message) as caught:
        connector(config)
    assert caught.value.permanent


@pytest.mark.parametrize(
    ("via", "message"),
    [
        ({"field": "user", "parent": "auth.Group"}, "via.parent must be one of"),
        ({"field": "object_repr", "parent": "auth.User"}, "no foreign key to auth.User"),
        ({"field": "usr", "parent": "auth.User"}, "no field 'usr'"),
    ],
)
def test_a_bad_via_is_a_config_error(via, message):
    with pytest.raises(ConnectorError, match=message):
        connector({"models": [USER, {**LOG, "via": via}]})
