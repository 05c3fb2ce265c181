"""Desk queue benchmark: the queue page and the officer API list over 100,000 requests.

Reports server time (median of repeated runs, Django test client in-process, so no network)
and query count, per page size, next to a floor measured in the same run: the same page
of rows fetched with one raw SQL query. Prints one table.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dsr_bench python bench/desk_queue.py [--requests 100000]

The database named in DATABASE_URL is created if missing and filled once; use a scratch one.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dsr.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dsr_bench")
os.environ.setdefault("DSR_TESTING", "1")  # no HTTPS redirects for the test client
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")


from bench.common import summary


def ensure_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def seed(total: int) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from dsr.core.crypto import identifier_hash
    from dsr.core.models import DataSubjectRequest, Kind, Regime, Status

    have = DataSubjectRequest.objects.count()
    if have >= total:
        return
    users = [get_user_model().objects.get_or_create(username=f"officer{i}")[0] for i in range(5)]
    rng = random.Random(7)
    today = timezone.localdate()
    batch = []
    for i in range(have, total):
        received = timezone.now() - timedelta(days=rng.randint(0, 400))
        email = f"person{i}@example.com"
        batch.append(DataSubjectRequest(
            kind=rng.choice(Kind.values), regime=rng.choice(Regime.values), status=rng.choice(Status.values),
            identifiers={"email": email}, email_hash=identifier_hash("email", email),
            received_at=received, clock_started_on=received.date(),
            due_on=today + timedelta(days=rng.randint(-30, 60)),
            assignee=rng.choice([None, *users]),
        ))
        if len(batch) == 5000:
            DataSubjectRequest.objects.bulk_create(batch)
            batch = []
    if batch:
        DataSubjectRequest.objects.bulk_create(batch)


def timed(fn, repeat: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fn()  # warm up
    times, queries = [], 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        queries = len(captured)
    return statistics.median(times) * 1000, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django_otp import DEVICE_ID_SESSION_KEY
    from rest_framework.test import APIClient

    from dsr.core.models import TOTPDevice
    from dsr.core.roles import Role, grant

    setup_test_environment()  # the test client records the context: we check each answer
    call_command("migrate", verbosity=0)
    seed(args.requests)
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-officer")
    grant(user, Role.OFFICER)
    device = TOTPDevice.objects.filter(user=user).first() or TOTPDevice.objects.create(
        user=user, name="bench", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    api = APIClient()
    api.force_login(user)
    api_session = api.session
    api_session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    api_session.save()

    def raw_floor(size: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, reference, kind, regime, status, received_at, due_on, extended_due_on, assignee_id "
                "FROM dsr_datasubjectrequest WHERE status IN ('received','awaiting_verification','verified',"
                "'approved','in_progress','review') ORDER BY COALESCE(extended_due_on, due_on), received_at "
                "LIMIT %s", [size])
            cursor.fetchall()

    def page(size: int) -> None:
        response = client.get(f"/desk/?open=1&size={size}")
        assert response.status_code == 200 and len(response.context["rows"]) == size, response.status_code

    def api_list(size: int) -> None:
        response = api.get(f"/api/v1/desk/requests/?open=1&limit={size}")
        assert response.status_code == 200 and len(response.json()["results"]) == size, response.status_code

    rows = []
    for size in (25, 50, 200):
        page_ms, page_q = timed(lambda size=size: page(size), args.repeat)
        api_ms, api_q = timed(lambda size=size: api_list(size), args.repeat)
        floor_ms, _ = timed(lambda size=size: raw_floor(size), args.repeat)
        rows.append((size, page_ms, page_q, api_ms, api_q, floor_ms))
    total = __import__("dsr.core.models", fromlist=["DataSubjectRequest"]).DataSubjectRequest.objects.count()
    print(f"\nDesk queue over {total:,} requests ({connection.vendor}), median of {args.repeat} runs")
    print(f"{'page size':>9} | {'page ms':>8} {'queries':>7} | {'API ms':>7} {'queries':>7} | "
          f"{'raw SQL ms':>10} | {'page/floor':>10}")
    for size, page_ms, page_q, api_ms, api_q, floor_ms in rows:
        print(f"{size:>9} | {page_ms:>8.1f} {page_q:>7} | {api_ms:>7.1f} {api_q:>7} | {floor_ms:>10.1f} | "
              f"{page_ms / floor_ms:>9.1f}x")
        summary("6 desk queue", f"{total:,} requests, page of {size}: page / API ({page_q} / {api_q} queries)",
                f"{page_ms:.1f} / {api_ms:.1f} ms", f"{floor_ms:.1f} ms", page_ms / floor_ms,
                "queries constant in the page size")


if __name__ == "__main__":
    main()
