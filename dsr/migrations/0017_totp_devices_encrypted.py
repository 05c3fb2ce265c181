"""Authenticators get their own table, with the TOTP secret encrypted (issue 17).

django-otp's TOTP plugin (``otp_totp``) kept each secret in clear, in hex. Its devices are
moved here, the secret encrypted, and its table is left empty: the plugin is no longer an
installed app, so its table is read and written with plain SQL, and only if it exists (a
database made after this change never had it). The reverse writes the devices back in
clear; it needs that table, and says so if it is missing.
"""

import datetime

import django.db.models.deletion
import dsr.core.fields
import dsr.core.models.desk
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone
from django.utils.dateparse import parse_datetime


LEGACY_TABLE = "otp_totp_totpdevice"
COLUMNS = ("user_id", "name", "confirmed", "key", "step", "t0", "digits", "tolerance", "drift", "last_t",
           "throttling_failure_timestamp", "throttling_failure_count", "created_at", "last_used_at")


DATETIMES = ("throttling_failure_timestamp", "created_at", "last_used_at")


def _aware(value):
    """A date and time as read with plain SQL (SQLite gives text in UTC), aware."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.timezone.utc)
    return value


def _has_legacy_table(connection) -> bool:
    with connection.cursor() as cursor:
        return LEGACY_TABLE in connection.introspection.table_names(cursor)


def _columns(connection) -> str:
    return ", ".join(connection.ops.quote_name(c) for c in COLUMNS)


def encrypt_devices(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if not _has_legacy_table(connection):
        return
    device_model = apps.get_model("dsr", "TOTPDevice")
    table = connection.ops.quote_name(LEGACY_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_columns(connection)} FROM {table}")  # nosec B608: the table and column names are this module's constants, quoted
        for row in cursor.fetchall():
            values = dict(zip(COLUMNS, row, strict=True))
            values.update({name: _aware(values[name]) for name in DATETIMES})
            device = device_model.objects.create(**values)
            # created_at is set on creation: keep the original date
            device_model.objects.filter(pk=device.pk).update(created_at=values["created_at"])
        cursor.execute(f"DELETE FROM {table}")  # nosec B608: the table and column names are this module's constants, quoted


def administrators_see_devices(apps, schema_editor) -> None:
    """An administrator group made earlier had django-otp's device permissions (``grant`` gives a
    new group those of every admin app): it gets the new model's, so the admin still lists them."""
    group = apps.get_model("auth", "Group").objects.filter(name="administrator").first()
    if group is None:
        return
    content_type, _ = apps.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="dsr", model="totpdevice")
    permission_model = apps.get_model("auth", "Permission")
    for action in ("add", "change", "delete", "view"):
        permission, _ = permission_model.objects.get_or_create(
            content_type=content_type, codename=f"{action}_totpdevice",
            defaults={"name": f"Can {action} TOTP device"})
        group.permissions.add(permission)


def decrypt_devices(apps, schema_editor) -> None:
    connection = schema_editor.connection
    device_model = apps.get_model("dsr", "TOTPDevice")
    if not device_model.objects.exists():
        return
    if not _has_legacy_table(connection):
        raise RuntimeError(
            f"There is no {LEGACY_TABLE} table to put the authenticators back in: add "
            "django_otp.plugins.otp_totp to INSTALLED_APPS, run `manage.py migrate otp_totp`, then go back."
        )
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    table = connection.ops.quote_name(LEGACY_TABLE)
    insert = f"INSERT INTO {table} ({_columns(connection)}) VALUES ({placeholders})"  # nosec B608: the table and column names are this module's constants, quoted
    with connection.cursor() as cursor:
        for device in device_model.objects.order_by("pk"):
            cursor.execute(insert, [getattr(device, c) for c in COLUMNS])
    device_model.objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ('dsr', '0016_status_revocations'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.CreateModel(
            name='TOTPDevice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text='The human-readable name of this device.', max_length=64)),
                ('confirmed', models.BooleanField(default=True, help_text='Is this device ready for use?')),
                ('throttling_failure_timestamp', models.DateTimeField(blank=True, default=None, help_text='A timestamp of the last failed verification attempt. Null if last attempt succeeded.', null=True)),
                ('throttling_failure_count', models.PositiveIntegerField(default=0, help_text='Number of successive failed attempts.')),
                ('created_at', models.DateTimeField(auto_now_add=True, help_text='The date and time when this device was initially created in the system.', null=True)),
                ('last_used_at', models.DateTimeField(blank=True, help_text='The most recent date and time this device was used.', null=True)),
                ('key', dsr.core.fields.EncryptedJSONField(default=dsr.core.models.desk.new_totp_key, editable=False, help_text='the secret (hex), encrypted at rest; never shown')),
                ('step', models.PositiveSmallIntegerField(default=30, help_text='The time step in seconds.')),
                ('t0', models.BigIntegerField(default=0, help_text='The Unix time at which to begin counting steps.')),
                ('digits', models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6, help_text='The number of digits to expect in a token.')),
                ('tolerance', models.PositiveSmallIntegerField(default=1, help_text='The number of time steps in the past or future to allow.')),
                ('drift', models.SmallIntegerField(default=0, help_text='The number of time steps the prover is known to deviate from our clock.')),
                ('last_t', models.BigIntegerField(default=-1, help_text='The time step of the last verified token: the next must be later.')),
                ('user', models.ForeignKey(help_text='The user that this device belongs to.', on_delete=django.db.models.deletion.CASCADE, to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'TOTP device',
                'abstract': False,
            },
        ),
        migrations.RunPython(encrypt_devices, decrypt_devices),
        migrations.RunPython(administrators_see_devices, migrations.RunPython.noop),
    ]
