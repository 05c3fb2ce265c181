"""Shared pieces of the benchmarks: a scratch database, the product's processes, timing.

Benchmarks run the real product (gunicorn serving the API, Celery workers on Redis,
PostgreSQL) on this machine, and measure a floor for the same work in the same run.
"""

from __future__ import annotations

import base64
import os
import signal
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
# One Redis database for every benchmark (they run one at a time, and each empties it
# first): BENCH_REDIS, else REDIS_URL's, so that on a shared machine a benchmark stays in
# the database its user was given and never empties another's.
REDIS = os.environ.get("BENCH_REDIS") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13"


def product_env(database: str, **extra: str) -> dict[str, str]:
    """One environment for the benchmark process, the web server and the workers."""
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{database}",
        "REDIS_URL": REDIS,
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "DSR_ENCRYPTION_KEY": base64.urlsafe_b64encode(b"b" * 32).decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "false",
        "DSR_VAR_DIR": str(ROOT / "var" / "bench"),
        "DJANGO_SETTINGS_MODULE": "dsr.settings",
        "LOG_LEVEL": "WARNING",
        "DSR_RETRY_BASE_SECONDS": "0.5",
        # One integration files thousands of requests a minute here: the per-token limit
        # (600/min by default) would answer most of them 429 and the benchmark would time
        # the limit. A busy integration in production raises it the same way.
        "DSR_RATE_PER_TOKEN": "1000000/m",
        **extra,
    }
    env.pop("DSR_TESTING", None)
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    return env


def recreate_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def fresh_product(database: str, **extra: str) -> dict[str, str]:
    """An empty, migrated database for the product, this process set up on it, its Redis db emptied.

    Returns the environment for the product's processes (see :func:`product_env`).
    """
    recreate_database(database)
    env = product_env(database, **extra)
    django_setup(env)
    import redis
    from django.core.management import call_command

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    call_command("migrate", verbosity=0)
    return env


def integration_token(token: str, *, auto_approve: bool) -> None:
    """A trusted integration that files pre-verified requests with ``token``."""
    from dsr.core.models import IntegrationToken
    from dsr.engine.connections import token_hash

    IntegrationToken.objects.create(name="bench", token_hash=token_hash(token), auto_approve=auto_approve)


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


@contextmanager
def processes(*commands: list[str], env: dict[str, str], ready: float = 3.0):
    """Start the product's processes (each in its own group) and stop them afterwards."""
    started = [
        subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
        for cmd in commands
    ]
    time.sleep(ready)
    try:
        yield started
    finally:
        for process in started:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def gunicorn(port: int) -> list[str]:
    """gunicorn as production runs it (gunicorn.conf.py: its workers, threads and access log), on ``port``."""
    return [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{port}",
            "--log-level", "warning", "dsr.wsgi:application"]


def celery_worker(concurrency: int = 2) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "dsr", "worker", "-l", "warning",
            f"--concurrency={concurrency}", "--without-gossip", "--without-mingle", "--without-heartbeat"]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def serving(port: int) -> bool:
    """Whether the product's web server on ``port`` answers (its API schema, with a 200)."""
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/schema/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths))
    out = [f"\n{title}", line, "-+-".join("-" * w for w in widths)]
    out += [" | ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(out)


def summary(workload: str, measure: str, ours: str, floor: str, ratio: float | None, aim: str = "",
            met: bool | None = None) -> None:
    """One line for the table ``make bench`` prints at the end (bench/run_all.py).

    ``ratio`` is ours ÷ floor, in the direction where lower is better (times, or the
    floor's throughput over ours); ``met`` whether ``aim`` (a target) was reached, None
    when the line has no target. Written to $BENCH_SUMMARY when it is set.
    """
    import json

    path = os.environ.get("BENCH_SUMMARY")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"workload": workload, "measure": measure, "ours": ours, "floor": floor,
                             "ratio": ratio, "aim": aim, "met": met}) + "\n")
