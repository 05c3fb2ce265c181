"""Authenticator (TOTP) secrets: encrypted at rest, shown once at enrolment and never again (issue 17).

``desk_user`` prints the otpauth:// URI when it creates a device; after that no page, no
command and no raw column gives the secret away: the admin lists devices read-only (name,
user, confirmed), with no key, no QR code and no configuration URL. Logging in still takes
the password and the current code, and devices kept in clear by django-otp's own TOTP
plugin are moved, encrypted, by a migration (see also ``test_at_rest``).
"""

from __future__ import annotations

import base64
import importlib
import io
from binascii import unhexlify

import pytest
import time_machine
from django.apps import apps as installed_apps
from django.apps.registry import Apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, models
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp

from tests.dsr.desk.users import PASSWORD, current_code, device_of, make_user

pytestmark = pytest.mark.django_db


def secret_forms(device) -> list[str]:
    """The secret as the database (hex) and as an authenticator app (base32) would hold it."""
    return [device.bin_key.hex(), base64.b32encode(device.bin_key).decode().rstrip("=")]


def secrets_shown(response, device, *links: str) -> list[str]:
    """The secret, an otpauth:// URI, or any of ``links`` (to a QR code or a configuration page) in the answer."""
    text = response.content.decode("utf-8", "replace").lower()
    return [n for n in [*secret_forms(device), "otpauth:", *links] if n.lower() in text]


def test_the_admin_lists_devices_read_only_without_their_secret(client, desk_login):
    desk_login("administrator", username="root")
    device = device_of(make_user("clerk", "officer"))
    opts = device._meta
    listing = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[device.pk])
    page = client.get(change)
    for response in (listing, page):
        assert response.status_code == 200
        text = response.content.decode()
        assert device.name in text and "clerk" in text
        assert not secrets_shown(response, device, "qrcode", "/config/")
    assert 'name="key"' not in page.content.decode() and "<textarea" not in page.content.decode()
    for extra in ("config/", "qrcode/"):  # django-otp's own admin draws the secret at these
        response = client.get(change.removesuffix("change/") + extra, follow=True)
        assert not response["Content-Type"].startswith("image/")
        assert not secrets_shown(response, device), extra


@pytest.mark.parametrize("where", ["/desk/login/", "/admin/login/"])
def test_the_password_and_the_current_code_log_in_and_a_wrong_code_does_not(where):
    user = make_user("root", "administrator")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        wrong = f"{(int(current_code(user)) + 500_000) % 10**6:06d}"
        refused = Client().post(where, {"username": "root", "password": PASSWORD, "otp_token": wrong})
        assert refused.status_code == 200 and not refused.wsgi_request.user.is_authenticated
        clock.shift(2)  # past django-otp's throttle: one second after the first failure
        client = Client()
        done = client.post(where, {"username": "root", "password": PASSWORD, "otp_token": current_code(user)})
    assert done.status_code == 302 and not done["Location"].startswith(where), done.content
    assert client.get(where.removesuffix("login/")).status_code == 200


def desk_user(*options: str) -> str:
    out = io.StringIO()
    call_command("desk_user", "pat", "--role", "officer", *options, stdout=out)
    return out.getvalue()


def test_desk_user_prints_the_secret_once_and_a_new_device_on_request():
    first = desk_user("--password", PASSWORD)
    device = device_of(get_user_model().objects.get(username="pat"))
    hex_key, b32_key = secret_forms(device)
    assert "otpauth://totp/" in first and f"secret={b32_key}" in first
    again = desk_user("--email", "pat@corp.example")
    assert "otpauth" not in again and b32_key not in again and "--new-device" in again
    assert device_of(get_user_model().objects.get(username="pat")).bin_key.hex() == hex_key  # kept
    renewed = desk_user("--new-device")
    new_b32 = secret_forms(device_of(get_user_model().objects.get(username="pat")))[1]
    assert new_b32 != b32_key and f"secret={new_b32}" in renewed and b32_key not in renewed


# --- the migration from django-otp's TOTP plugin ------------------------------------------------

MIGRATION = "dsr.migrations.0017_totp_devices_encrypted"


def legacy_model():
    """django-otp's ``otp_totp.TOTPDevice`` table as its migrations leave it (key in hex, in
    clear), in a registry of its own: the plugin is no longer an installed app."""

    class LegacyTOTPDevice(models.Model):
        user_id = models.IntegerField()
        name = models.CharField(max_length=64)
        confirmed = models.BooleanField()
        key = models.CharField(max_length=80)
        step = models.PositiveSmallIntegerField()
        t0 = models.BigIntegerField()
        digits = models.PositiveSmallIntegerField()
        tolerance = models.PositiveSmallIntegerField()
        drift = models.SmallIntegerField()
        last_t = models.BigIntegerField()
        throttling_failure_timestamp = models.DateTimeField(null=True)
        throttling_failure_count = models.PositiveIntegerField()
        created_at = models.DateTimeField(null=True)
        last_used_at = models.DateTimeField(null=True)

        class Meta:
            apps = Apps(())
            app_label = "otp_totp"
            db_table = "otp_totp_totpdevice"

    return LegacyTOTPDevice


@pytest.fixture
def legacy_table():
    """The plugin's table, made for the test and dropped after it. Made outside the test's
    transaction (SQLite's schema editor cannot run inside one), so the test runs without one."""
    model = legacy_model()
    with connection.schema_editor() as editor:
        editor.create_model(model)
    yield model
    with connection.schema_editor() as editor:
        editor.delete_model(model)


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_a_clear_device_into_an_encrypted_one_that_verifies_the_same_codes(legacy_table):
    migration = importlib.import_module(MIGRATION)
    Legacy = legacy_table
    user = make_user("pat", "officer", device=False)
    hex_key = "3132333435363738393031323334353637383930"  # RFC 6238's test secret
    Legacy.objects.create(user_id=user.pk, name="phone", confirmed=True, key=hex_key, step=30, t0=0, digits=6,
                          tolerance=1, drift=0, last_t=-1, throttling_failure_count=0)

    with connection.schema_editor() as editor:
        migration.encrypt_devices(installed_apps, editor)

    assert not Legacy.objects.exists()  # nothing left in clear
    device = device_of(user)
    assert device.name == "phone" and device.confirmed and device.bin_key == unhexlify(hex_key)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {device._meta.db_table}")  # a table name from the model
        raw = repr(cursor.fetchall()).lower()
    assert all(secret.lower() not in raw for secret in secret_forms(device))
    code = totp(unhexlify(hex_key), step=30, t0=0, digits=6)
    assert device.verify_token(f"{code:06d}")
    assert not device.verify_token(f"{code:06d}")  # a code is used once

    with connection.schema_editor() as editor:
        migration.decrypt_devices(installed_apps, editor)
    back = Legacy.objects.get()
    assert back.key == hex_key and back.user_id == user.pk and back.last_t == device.last_t
    assert not type(device).objects.exists()
