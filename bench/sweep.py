"""Workload 7: the deadline sweep over 1,000,000 open requests, and its raw-SQL floor.

A scratch app database holds 1,000,000 open requests and 100,000 closed ones, seeded in
one INSERT ... SELECT over generate_series. The encrypted identifiers reuse a few
ciphertexts made by the product's own field encryption, so every row is valid. Due
dates run from 15 days passed to 45 days ahead, one in twenty is extended, one in ten
is a CCPA request with an acknowledgement date (half of those acknowledged), a quarter
of those already near their date carry the reminders an earlier run sent, and 70% are
assigned (among them to an inactive officer and one without an email address).

The product's sweep (``dsr.engine.watch.remind``, as beat runs it: Celery in-process, emails to
an in-memory outbox) runs twice: the first pass marks, audits and emails; the second,
idle, finds nothing new. Each pass is checked against an independent SQL statement of
the rules: every request due a reminder got exactly each marker it was due, once, with
its audit event, none other did, closed requests got nothing, the audit chain verifies,
and each recipient's email counts the right requests.

The floor runs on a copy of the seeded database (CREATE DATABASE ... TEMPLATE) in the same
run: one statement that finds the same rows, appends their markers (UPDATE ... FROM) and
inserts one audit row per marker (INSERT ... SELECT), without hash-chaining or emails.

    python bench/sweep.py [--requests 1000000] [--closed 100000] [--keep] [--profile FILE]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import PG, REDIS, django_setup, product_env, recreate_database, summary, table

APP_DB, FLOOR_DB = "dsr_bench_sweep", "dsr_bench_sweep_floor"
OPEN = ["received", "awaiting_verification", "verified", "approved", "in_progress", "review"]
CLOSED = ["completed", "denied", "cancelled", "expired"]
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
IDENTITIES = 8  # distinct (ciphertext, email hash) pairs the rows cycle through


def _reference_sql() -> str:
    """DSR-XXXX-XXXX from the row number: 8 base-32 digits, unique for every g < 2**40."""
    digit = "substr('{a}', ((s.g >> {shift}) & 31)::int + 1, 1)"
    digits = [digit.format(a=ALPHABET, shift=5 * k) for k in range(7, -1, -1)]
    return "'DSR-' || " + " || ".join(digits[:4]) + " || '-' || " + " || ".join(digits[4:])


SEED = f"""
INSERT INTO dsr_datasubjectrequest (
    id, reference, kind, regime, status, identifiers, email_hash, requester_type, country, subdivision,
    language, received_at, verified_at, clock_started_on, due_on, extended_due_on, extension_reason,
    acknowledge_by, acknowledged_at, reminders_sent, outcome, denial_reason,
    assignee_id, updated_at, status_revocations)
SELECT gen_random_uuid(), {_reference_sql()},
    (ARRAY['access','portability','rectification','erasure'])[(s.h2 %% 4) + 1],
    CASE WHEN s.ccpa THEN 'ccpa' ELSE (ARRAY['gdpr','uk_gdpr','lgpd','pipeda'])[(s.h2 / 4 %% 4) + 1] END,
    CASE WHEN s.open THEN (%(open)s::text[])[(s.h2 / 16 %% 6) + 1] ELSE (%(closed)s::text[])[(s.h2 / 16 %% 4) + 1] END,
    (%(ciphers)s::text[])[(s.g %% {IDENTITIES}) + 1], (%(hashes)s::text[])[(s.g %% {IDENTITIES}) + 1],
    'subject', CASE WHEN s.ccpa THEN 'US' ELSE 'DE' END, CASE WHEN s.ccpa THEN 'CA' ELSE '' END, 'en',
    now() - (30 - s.d) * interval '1 day', now() - (30 - s.d) * interval '1 day',
    s.due_on - 30, s.due_on, s.extended_due_on, '',
    s.ack_by, CASE WHEN s.ccpa AND s.h2 / 3840 %% 2 = 0 THEN now() END,
    CASE WHEN NOT s.open THEN '[]'::jsonb
         WHEN s.h1 / 48800 %% 4 = 0 AND s.e BETWEEN 0 AND 7 THEN '["due:7"]'::jsonb
         WHEN s.h1 / 48800 %% 4 = 0 AND s.e < 0 THEN '["due:7", "due:2", "overdue"]'::jsonb
         WHEN s.h1 / 48800 %% 4 = 1 AND s.e < 0 THEN '["due:7", "due:2"]'::jsonb
         ELSE '[]'::jsonb END,
    '', '',
    CASE WHEN s.h2 / 7680 %% 10 < 7 THEN (%(officers)s::int[])[(s.h2 / 76800 %% %(n_officers)s) + 1] END,
    now(), 0
FROM (
    SELECT t.*, COALESCE(t.extended_due_on, t.due_on) - %(today)s::date AS e
    FROM (
        SELECT r.*, %(today)s::date + r.d AS due_on,
            CASE WHEN r.h1 / 61 %% 20 = 0 THEN %(today)s::date + r.d + (r.h1 / 1220 %% 40)::int END AS extended_due_on,
            CASE WHEN r.ccpa THEN %(today)s::date + (r.h2 / 240 %% 15)::int - 5 END AS ack_by
        FROM (
            SELECT q.*, (q.h1 %% 61)::int - 15 AS d, q.h2 / 24 %% 10 = 0 AS ccpa, q.g <= %(open_total)s AS open
            FROM (
                SELECT g, hashint8(g)::bigint + 2147483648 AS h1,
                       hashint8(g + 10000000000)::bigint + 2147483648 AS h2
                FROM generate_series(1::bigint, %(total)s::bigint) AS g
            ) q
        ) r
    ) t
) s
"""

# The rules of dsr.engine.watch, stated again in SQL (thresholds 7 and 2 days, CCPA acknowledgement
# flagged 2 days ahead): for each open request, the markers it has earned and not yet had.
NEW_MARKERS = """
SELECT x.id, x.assignee_id, x.reminders_sent AS sent_before, x.e, x.ack_left,
    to_jsonb(array_remove(ARRAY[
        CASE WHEN x.m IS NOT NULL AND NOT x.reminders_sent ? x.m THEN x.m END,
        CASE WHEN x.ack AND NOT x.reminders_sent ? 'ack' THEN 'ack' END], NULL)) AS new
FROM (
    SELECT r.id, r.assignee_id, r.reminders_sent, r.e, r.acknowledge_by - %(today)s::date AS ack_left,
        CASE WHEN r.e < 0 THEN 'overdue' WHEN r.e <= 2 THEN 'due:2' WHEN r.e <= 7 THEN 'due:7' END AS m,
        (r.acknowledge_by IS NOT NULL AND r.acknowledged_at IS NULL
         AND r.acknowledge_by - %(today)s::date <= 2) AS ack
    FROM (
        SELECT d.*, COALESCE(d.extended_due_on, d.due_on) - %(today)s::date AS e
        FROM dsr_datasubjectrequest d WHERE d.status = ANY(%(open)s) {window}
    ) r
) x
"""
# The floor looks only where a reminder can be due (the open queue's index on the due date).
WINDOW = ("AND (COALESCE(d.extended_due_on, d.due_on) <= %(today)s::date + 7 "
          "OR d.acknowledge_by <= %(today)s::date + 2)")

FLOOR = f"""
WITH due AS (
    SELECT * FROM ({NEW_MARKERS.format(window=WINDOW)}) n WHERE n.new <> '[]'::jsonb
), marked AS (
    UPDATE dsr_datasubjectrequest r SET reminders_sent = r.reminders_sent || due.new
    FROM due WHERE r.id = due.id
    RETURNING r.id, due.new, due.e, due.ack_left
), events AS (
    SELECT marked.id, m.marker, CASE WHEN m.marker = 'ack' THEN marked.ack_left ELSE marked.e END AS days_left,
        row_number() OVER () AS n
    FROM marked, jsonb_array_elements_text(marked.new) AS m(marker)
)
INSERT INTO dsr_auditevent (id, seq, created_at, actor_type, actor_id, verb, request_id, details, prev_hash, hash)
SELECT gen_random_uuid(), COALESCE((SELECT max(seq) FROM dsr_auditevent), 0) + events.n, now(), 'scheduler', 'beat',
    'deadline.reminder', events.id, jsonb_build_object('marker', events.marker, 'days_left', events.days_left), '',
    encode(sha256(convert_to(events.id::text || events.marker, 'UTF8')), 'hex')
FROM events
"""


def seed(total_open: int, closed: int, today) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from dsr.core.crypto import encrypt_json, identifier_hash
    from dsr.core.roles import Role, grant

    User = get_user_model()
    officers = []
    for i in range(20):
        officers.append(User.objects.create(username=f"officer{i}", email=f"officer{i}@corp.example",
                                            is_active=i != 18, password="!"))
    officers[19].email = ""
    officers[19].save(update_fields=["email"])
    for officer in officers:
        grant(officer, Role.OFFICER)
    for i in range(2):
        grant(User.objects.create(username=f"admin{i}", email=f"admin{i}@corp.example", password="!"),
              Role.ADMINISTRATOR)
    grant(User.objects.create(username="auditor", email="auditor@corp.example", password="!"), Role.AUDITOR)
    emails = [f"person{i}@example.com" for i in range(IDENTITIES)]
    params = {
        "today": today, "open": OPEN, "closed": CLOSED, "total": total_open + closed, "open_total": total_open,
        "ciphers": [encrypt_json({"email": e}) for e in emails],
        "hashes": [identifier_hash("email", e) for e in emails],
        "officers": [o.pk for o in officers], "n_officers": len(officers),
    }
    with connection.cursor() as cur:
        # A bulk load as one would do it: the secondary indexes are built once the rows are in
        # (from the catalogue's own definitions, so the schema ends up as migrated).
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'dsr_datasubjectrequest' "
                    "AND indexname NOT IN (SELECT conname FROM pg_constraint)")
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        cur.execute(SEED, params)
        for _, definition in indexes:
            cur.execute(definition)
        cur.execute(f"CREATE TABLE bench_expected AS {NEW_MARKERS.format(window='')}", params)
        cur.execute("CREATE UNIQUE INDEX ON bench_expected (id)")
    connection.close()
    import psycopg

    with psycopg.connect(f"{PG}/{APP_DB}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # as autovacuum would have, long before an hourly run


def scalar(sql: str, params: dict | None = None):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(sql, params or {})
        return cur.fetchone()[0]


def check(passes: int) -> dict:
    """Everything the sweeps did, against bench_expected (the rules in SQL, before the first pass)."""
    wrong_marks = scalar("SELECT count(*) FROM bench_expected x JOIN dsr_datasubjectrequest r USING (id) "
                         "WHERE r.reminders_sent <> x.sent_before || x.new")
    assert wrong_marks == 0, f"{wrong_marks} open requests do not hold exactly the markers they were due"
    touched_closed = scalar("SELECT count(*) FROM dsr_datasubjectrequest WHERE status <> ALL(%(open)s) "
                            "AND reminders_sent <> '[]'::jsonb", {"open": OPEN})
    assert touched_closed == 0, f"{touched_closed} closed requests were reminded"
    wrong_events = scalar("""
        SELECT count(*) FROM (
            SELECT request_id, details->>'marker' AS marker, min((details->>'days_left')::int) AS days_left,
                   count(*) AS n
            FROM dsr_auditevent WHERE verb = 'deadline.reminder' GROUP BY 1, 2) a
        FULL JOIN (
            SELECT id, m.marker, CASE WHEN m.marker = 'ack' THEN ack_left ELSE e END AS days_left
            FROM bench_expected, jsonb_array_elements_text(new) AS m(marker)) x
          ON a.request_id = x.id AND a.marker = x.marker
        WHERE a.request_id IS NULL OR x.id IS NULL OR a.n <> 1 OR a.days_left <> x.days_left""")
    assert wrong_events == 0, f"{wrong_events} reminders missing, extra, repeated or with the wrong days left"
    return {
        "marked": scalar("SELECT count(*) FROM bench_expected WHERE new <> '[]'::jsonb"),
        "events": scalar("SELECT count(*) FROM dsr_auditevent WHERE verb = 'deadline.reminder'"),
    }


def expected_emails() -> dict[str, int]:
    """Address -> how many requests its email must count (its own, plus the team's if on the team)."""
    from django.db import connection

    from dsr.engine.watch import team_addresses

    with connection.cursor() as cur:
        cur.execute("""
            SELECT CASE WHEN u.is_active AND u.email <> '' THEN u.email END, count(*)
            FROM bench_expected x LEFT JOIN auth_user u ON u.id = x.assignee_id
            WHERE x.new <> '[]'::jsonb GROUP BY 1""")
        counts = dict(cur.fetchall())
    team = counts.pop(None, 0)
    expected = dict(counts)
    if team:
        for address in team_addresses():
            expected[address] = expected.get(address, 0) + team
    return expected


def check_emails(outbox: list, expected: dict[str, int]) -> None:
    got = {}
    for message in outbox:
        [address] = message.to
        assert address not in got, f"two emails to {address}"
        match = re.match(r"(\d+) data-subject requests? reached", message.body)
        assert match, message.body[:200]
        got[address] = int(match.group(1))
        assert 0 < message.body.count("DSR-") <= 100
        assert "@example.com" not in message.body  # never the person's address
    assert got == expected, f"emails: {got} != {expected}"


def run_floor(today) -> tuple[float, float, int]:
    import psycopg

    params = {"today": today, "open": OPEN}
    with psycopg.connect(f"{PG}/{FLOOR_DB}") as conn:
        conn.execute("SELECT count(*) FROM dsr_datasubjectrequest").fetchone()  # as warm as ours
        conn.execute("SELECT count(*) FROM dsr_auditevent").fetchone()
        started = time.perf_counter()
        inserted = conn.execute(FLOOR, params).rowcount
        conn.commit()
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = conn.execute(FLOOR, params).rowcount
        conn.commit()
        idle = time.perf_counter() - started
    assert again == 0, f"the floor's idle pass inserted {again}"
    return first, idle, inserted


def main() -> None:
    parser = argparse.ArgumentParser(description="deadline sweep benchmark")
    parser.add_argument("--requests", type=int, default=1_000_000, help="open requests")
    parser.add_argument("--closed", type=int, default=100_000, help="closed requests besides")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument("--profile", metavar="FILE",
                        help="profile the first pass with pyinstrument into FILE (slows it down)")
    args = parser.parse_args()

    recreate_database(APP_DB)
    env = product_env(APP_DB, REDIS_URL=REDIS, EMAIL_URL="memorymail://", DSR_REMINDER_DAYS="7,2")
    env["CELERY_TASK_ALWAYS_EAGER"] = "true"  # beat's task and the mail tasks, in this process
    django_setup(env)
    import psycopg
    import redis
    from django.core import mail
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from dsr.core import audit
    from dsr.engine import watch

    redis.Redis.from_url(REDIS).flushdb()
    call_command("migrate", verbosity=0)
    today = timezone.localdate()
    started = time.perf_counter()
    seed(args.requests, args.closed, today)
    seeding = time.perf_counter() - started
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{FLOOR_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{FLOOR_DB}" TEMPLATE "{APP_DB}"')

    mail.outbox = []
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
    started = time.perf_counter()
    first_emails = watch.remind(today=today)
    first = time.perf_counter() - started
    if profiler:
        profiler.stop()
        Path(args.profile).write_text(profiler.output_text(unicode=False, color=False))
    first_counts = check(1)
    check_emails(mail.outbox, expected_emails())
    assert first_emails == len(mail.outbox)

    mail.outbox = []
    started = time.perf_counter()
    idle_emails = watch.remind(today=today)
    idle = time.perf_counter() - started
    idle_counts = check(2)
    assert idle_emails == 0 and mail.outbox == [], "the idle pass sent reminders"
    assert idle_counts["events"] == first_counts["events"], "the idle pass added audit events"

    started = time.perf_counter()
    faults = list(audit.verify_chain())
    chain_check = time.perf_counter() - started
    assert faults == [], faults[:3]
    connection.close()

    floor_first, floor_idle, floor_events = run_floor(today)
    assert floor_events == first_counts["events"], (floor_events, first_counts)
    if not args.keep:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            for name in (FLOOR_DB, APP_DB):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        redis.Redis.from_url(REDIS).flushdb()

    total = args.requests + args.closed
    rows = [
        ["first pass", f"{first:.1f} s", f"{floor_first:.2f} s", f"{first / floor_first:.1f}x",
         f"{first_counts['marked']:,}", f"{first_counts['events']:,}", str(first_emails)],
        ["idle pass", f"{idle:.2f} s", f"{floor_idle:.2f} s", f"{idle / floor_idle:.1f}x", "0", "0",
         str(idle_emails)],
    ]
    print(table(f"Deadline sweep over {args.requests:,} open requests ({total:,} in all), PostgreSQL",
                ["pass", "ours", "raw SQL floor", "ours vs floor", "requests reminded", "audit events",
                 "emails"], rows))
    print(f"\nseeded {total:,} requests in {seeding:.1f} s; verified the audit chain "
          f"({first_counts['events']:,} events) in {chain_check:.1f} s")
    summary("7 sweep", f"{args.requests:,} open requests, first pass ({first_counts['marked']:,} reminded)",
            f"{first:.1f} s", f"{floor_first:.2f} s", first / floor_first, "")
    summary("7 sweep", "idle pass (nothing new)", f"{idle:.2f} s", f"{floor_idle:.2f} s", idle / floor_idle, "")


if __name__ == "__main__":
    main()
