"""Workload 4: intake under load, against a bare Django JSON view on the same server.

gunicorn (2 sync workers, the product's settings with DEBUG off) serves the product's
URLs plus one bare view (``bench/intake_site.py``, ``bench/intake_urls.py``: a server
started for this benchmark only). ``wrk`` POSTs JSON from 2 threads over 8 connections,
each body with an email address never used before, for 20 s per endpoint:

- the bare view: parses the JSON body and answers a small JSON object (the floor);
- ``POST /api/v1/requests/`` anonymously, as the public form's API: rate limits stay on
  (two counters in Redis per request). All the load comes from one address, so the
  per-address limit is raised to 1,000,000/h; the per-email limit is untouched and never
  reached, as every email is new, and no request is linked to an earlier one;
- ``POST /api/v1/requests/`` with a trusted integration's token (not auto-approving): no
  rate limits, and each request is verified at once.

No Celery worker runs: the acknowledgement tasks wait in Redis, so the web server has
the cores to itself. Results are checked: no 5xx; every answer from the product is a
201; gunicorn's access log counts the 201s it sent (including those to connections wrk
cut off at the end), and exactly that many requests were stored, in the right status.

Needs ``wrk`` (Debian package ``wrk``). If it is missing and this runs as root where
apt-get works, it says so and installs it; otherwise it stops and says what to install.

    python bench/intake.py [--seconds 20] [--connections 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    REDIS,
    ROOT,
    fresh_product,
    gunicorn,
    integration_token,
    processes,
    serving,
    summary,
    table,
    wait_until,
)

APP_DB = "dsr_bench_intake_app"
PORT = 8793
THREADS = 2
TOKEN = "bench-intake-integration-token"
VAR = ROOT / "var" / "bench-intake"
ACCESS_LOG = VAR / "access.log"

# Each wrk thread numbers its own requests; the thread id and a tag per run make every email new.
# done() sums the threads' counters and prints one JSON line.
LUA = r"""
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  tag, token = args[1], args[2]
  sent, statuses = 0, {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if token ~= nil and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"kind":"access","email":"load-%s-%d-%d@intake.example","country":"DE"}', tag, id, sent)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local sent_all, parts = 0, {}
  local by_status = {}
  for _, thread in ipairs(threads) do
    sent_all = sent_all + thread:get("sent")
    for status, n in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + n
    end
  end
  for status, n in pairs(by_status) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"sent":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, sent_all, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, ",")))
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing the Debian package wrk with apt-get", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, env=env, check=False).returncode != 0:  # the package lists may be missing
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(install, env=env, check=True)
        found = shutil.which("wrk")
    if found is None:
        sys.exit("bench/intake.py needs wrk, the HTTP load tool: install it (Debian: apt-get install wrk)")
    return found


def run_wrk(wrk: str, script: Path, path: str, tag: str, seconds: int, connections: int,
            token: str = "") -> dict:
    command = [wrk, f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
               f"http://127.0.0.1:{PORT}{path}", "--", tag, token]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    [line] = [line for line in output.splitlines() if line.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    result["statuses"] = {int(k): v for k, v in result["statuses"].items()}
    result["rate"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def served(path: str, offset: int) -> tuple[Counter[int], int]:
    """Statuses gunicorn logged for ``path`` after ``offset``, once the log has stopped growing."""
    def settled() -> bool:
        size = ACCESS_LOG.stat().st_size
        time.sleep(0.5)
        return ACCESS_LOG.stat().st_size == size

    wait_until(settled, timeout=30, what="the last requests to be served")
    with ACCESS_LOG.open() as log:
        log.seek(offset)
        lines = log.read().splitlines()
    statuses = Counter(int(status) for status, logged_path in (line.split(" ", 1) for line in lines)
                       if logged_path == path)
    return statuses, ACCESS_LOG.stat().st_size


def check(name: str, result: dict, server: Counter[int], ok: int, connections: int) -> None:
    client = result["statuses"]
    assert not any(s >= 500 for s in client) and not any(s >= 500 for s in server), (name, client, server)
    assert set(client) == {ok} and set(server) == {ok}, f"{name}: answers other than {ok}: {client} {server}"
    assert result["errors"]["timeout"] == 0, f"{name}: {result['errors']}"
    # wrk stops mid-flight: the server may still answer up to one request per connection
    assert 0 <= server[ok] - client[ok] <= connections, (name, client, server)


def main() -> None:
    parser = argparse.ArgumentParser(description="intake under load (workload 4)")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    started = time.perf_counter()
    wrk = ensure_wrk()

    VAR.mkdir(parents=True, exist_ok=True)
    ACCESS_LOG.unlink(missing_ok=True)
    env = fresh_product(APP_DB, REDIS_URL=REDIS, DSR_VAR_DIR=str(VAR), DJANGO_SETTINGS_MODULE="bench.intake_site",
                        DSR_RATE_SUBMIT_PER_IP="1000000/h")
    from django.conf import settings

    from dsr.core.models import Status

    assert not settings.DEBUG
    integration_token(TOKEN, auto_approve=False)

    server = [*gunicorn(PORT), "--access-logfile", str(ACCESS_LOG), "--access-logformat", "%(s)s %(U)s"]
    runs = [  # name, path, token, the answer expected, the status stored requests must have
        ("bare Django JSON view", "/bench/bare/", "", 200, None),
        ("intake, public API (rate limits on)", "/api/v1/requests/", "", 201, Status.AWAITING_VERIFICATION),
        ("intake, trusted integration", "/api/v1/requests/", TOKEN, 201, Status.VERIFIED),
    ]
    results = []
    with tempfile.TemporaryDirectory() as scratch, processes(server, env=env, ready=2.0):
        script = Path(scratch) / "post.lua"
        script.write_text(LUA)
        wait_until(lambda: serving(PORT), timeout=30, what="gunicorn")
        for index, (_, path, token, _, _) in enumerate(runs):  # warm both workers up
            run_wrk(wrk, script, path, f"warm{index}", 2, args.connections, token)
        offset = served("/bench/bare/", 0)[1]
        for index, (name, path, token, ok, stored_as) in enumerate(runs):
            before = _statuses()
            result = run_wrk(wrk, script, path, f"run{index}", args.seconds, args.connections, token)
            statuses, offset = served(path, offset)
            check(name, result, statuses, ok, args.connections)
            created = {s: n - before.get(s, 0) for s, n in _statuses().items() if n != before.get(s, 0)}
            expected = {stored_as: statuses[ok]} if stored_as else {}
            assert created == expected, f"{name}: stored {created}, gunicorn sent {statuses[ok]} x {ok}"
            results.append((name, result, ok, statuses[ok], sum(created.values())))

    bare_rate = results[0][1]["rate"]
    rows = [[name, f"{r['rate']:.0f}", f"{r['p50_us'] / 1000:.1f}", f"{r['p99_us'] / 1000:.1f}",
             f"{r['statuses'][ok]:,} / {sent:,} x {ok}", f"{stored:,}", f"{r['rate'] / bare_rate:.2f}"]
            for name, r, ok, sent, stored in results]
    print(table(
        f"Intake under load: wrk {THREADS} threads x {args.connections} connections, {args.seconds} s each, "
        "gunicorn 2 sync workers (DEBUG off), no Celery worker running",
        ["endpoint", "req/s", "p50 ms", "p99 ms", "answers seen by wrk / sent by gunicorn", "stored", "vs bare"],
        rows))
    print(f"(whole run {time.perf_counter() - started:.0f} s; no 5xx, every stored request counted)")
    for name, r, *_ in results[1:]:
        summary("4 intake", f"{name}, req/s and p99", f"{r['rate']:.0f} req/s, p99 {r['p99_us'] / 1000:.0f} ms",
                f"{bare_rate:.0f} req/s (bare view)", bare_rate / r["rate"], "≥ half the bare view (ratio ≤ 2×)",
                bare_rate / r["rate"] <= 2)


def _statuses() -> dict[str, int]:
    from django.db.models import Count

    from dsr.core.models import DataSubjectRequest

    return dict(DataSubjectRequest.objects.values_list("status").annotate(n=Count("id")))


if __name__ == "__main__":
    main()
