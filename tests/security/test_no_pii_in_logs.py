"""No subject identifier in the logs or in the audit trail, through a whole request.

Every logger (the root, Django's, Celery's, the HTTP client's, ours) is captured at
DEBUG, and Django's SQL logging is forced on with its parameters, for the whole
journey of ``journey.run_access_journey``. The person's email, name and phone must
appear in none of it: not in a message, not in a record's arguments or extras, not in
an SQL statement against our own tables, and not in any audit event.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.db import connection

from dsr.core.models import AuditEvent

from .journey import EMAIL, NAME, PHONE, clinic_dsn, run_access_journey, shop_dsn  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


class Everything(logging.Handler):
    """Keeps every record, formatted and raw, whatever its logger."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.stream = io.StringIO()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.stream.write(f"{record.name} {record.levelname} {record.getMessage()}\n")
        if record.exc_info:
            self.stream.write(logging.Formatter().formatException(record.exc_info) + "\n")
        # extras such as Django's ``sql`` and ``params``, in full
        self.stream.write(repr({k: v for k, v in vars(record).items() if k not in ("msg", "args")}) + "\n")


@contextlib.contextmanager
def every_log() -> Iterator[tuple[Everything, Everything]]:
    """Every logger at DEBUG into one handler on the root, the SQL logger into one of its own,
    and Django's SQL logging forced on (it logs only under DEBUG otherwise)."""
    everything, sql = Everything(), Everything()
    names = ["django", "django.db.backends", "django.request", "django.server", "django.security", "celery",
             "celery.app.trace", "celery.task", "kombu", "httpx", "httpcore", "urllib3", "dsr", "connectors",
             "py.warnings", *logging.root.manager.loggerDict]
    loggers = [logging.getLogger(name) for name in names] + [logging.getLogger()]
    levels = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    logging.getLogger().addHandler(everything)
    logging.getLogger("django.db.backends").addHandler(sql)
    forced, connection.force_debug_cursor = connection.force_debug_cursor, True
    logging.captureWarnings(True)
    try:
        yield everything, sql
    finally:
        logging.captureWarnings(False)
        connection.force_debug_cursor = forced
        logging.getLogger("django.db.backends").removeHandler(sql)
        logging.getLogger().removeHandler(everything)
        for logger, level, disabled in levels:
            logger.setLevel(level)
            logger.disabled = disabled


def _variants() -> list[str]:
    return [EMAIL, EMAIL.upper(), EMAIL.split("@")[0], NAME, NAME.split()[-1], PHONE, PHONE.replace(" ", "")]


def test_a_whole_request_leaves_no_identifier_in_any_log_or_audit_event(
    clinic_dsn, django_capture_on_commit_callbacks  # noqa: F811
):
    watched: list[tuple[Everything, Everything]] = []

    @contextlib.contextmanager
    def watch():
        with every_log() as handlers:
            watched.append(handlers)
            yield

    run_access_journey(django_capture_on_commit_callbacks, clinic_dsn, watch)
    [(everything, sql)] = watched

    # The capture really saw the journey, SQL and all: an empty log would prove nothing.
    assert len(everything.records) > 100
    statements = [r for r in sql.records if getattr(r, "sql", None)]
    assert any("dsr_datasubjectrequest" in r.sql and "INSERT" in r.sql for r in statements)
    assert any("demo_shop_customer" in r.sql for r in statements)  # the host-model system's queries too

    texts = {"log": everything.stream.getvalue(), "SQL log": sql.stream.getvalue()}
    for where, text in texts.items():
        found = [value for value in _variants() if value.lower() in text.lower()]
        assert not found, f"{found} in the {where}: " + _context(text, found[0])

    events = list(AuditEvent.objects.values("verb", "actor_id", "details"))
    assert len(events) > 10
    trail = json.dumps(events, default=str)
    found = [value for value in _variants() if value.lower() in trail.lower()]
    assert not found, f"{found} in the audit trail"


def _context(text: str, value: str) -> str:
    at = text.lower().find(value.lower())
    return text[max(at - 300, 0): at + 200]


def test_sql_in_the_log_keeps_its_shape_and_loses_its_values():
    """The filter on Django's SQL logger, as configured in the settings, on a real query."""
    from dsr.demo_shop.models import Customer

    with every_log() as (everything, sql):
        list(Customer.objects.filter(email__iexact="it's.me@example.net", name="O'Brien"))
    [record] = [r for r in sql.records if "demo_shop_customer" in r.getMessage()]
    message = record.getMessage()
    assert 'FROM "demo_shop_customer"' in message and '"demo_shop_customer"."name" = \'…\'' in message
    assert "it''s.me" not in message and "it's.me" not in message and "Brien" not in message
    # two values, and on SQLite the LIKE's ESCAPE character too
    assert "<2 withheld>" in message and record.sql.count("'…'") >= 2 and record.params is None
    assert [r.getMessage() for r in everything.records if r.name == "django.db.backends"] == [message]


def test_a_token_in_an_emailed_links_path_is_withheld_from_the_console_log(client):
    """Django logs the path of a 404 ("Not Found: <path>"); the console writes its token as [token]."""
    console = next(h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)
                   and any(type(f).__name__ == "WithholdPathTokens" for f in h.filters))
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        for path in ("/requests/DSR-NONE-NONE/open/a-secret-status-token/",
                     "/requests/DSR-NONE-NONE/verify/a-secret-link-token/"):
            assert client.get(path).status_code == 404
    finally:
        console.setStream(previous)
    written = stream.getvalue()
    assert "/requests/DSR-NONE-NONE/open/[token]/" in written, written
    assert "/requests/DSR-NONE-NONE/verify/[token]/" in written, written
    assert "secret" not in written, written
