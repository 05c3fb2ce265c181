"""The moving parts of the chaos test: a Redis server of its own, a killable worker, a vendor.

Each is a real process or a real server on 127.0.0.1; the test breaks them on purpose.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from tests.connectors.webhook_server import Answer, Received

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """``redis-server`` that keeps nothing (no RDB, no AOF): a restart loses every queued message."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("a")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self, down: float) -> None:
        """Stop, stay away for ``down`` seconds, start empty."""
        self.stop()
        time.sleep(down)
        self.start()
        self.restarts += 1


class Worker:
    """``celery worker`` with two pool processes, in a process group of its own.

    ``kill`` sends SIGKILL to the whole group (the main process and its pool), as an
    out-of-memory kill or a lost machine would: nothing is acknowledged or cleaned up.
    """

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.process: subprocess.Popen | None = None
        self.generation = 0
        self.kills = 0

    def start(self) -> None:
        self.generation += 1
        log = (self.workdir / f"worker-{self.generation:02d}.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dsr", "worker", "--concurrency=2", "-l", "info",
             "-n", f"chaos{self.generation}@%h", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def logs(self) -> list[Path]:
        return sorted(self.workdir.glob("worker-*.log"))

    def results(self, task: str) -> list[str]:
        """What each run of ``dsr.tasks.<task>`` returned (Celery logs it even when results are off)."""
        pattern = re.compile(rf"dsr\.tasks\.{task}\[[^\]]+\] succeeded in [\d.]+s: (.*)")
        return [m.group(1) for log in self.logs() for m in pattern.finditer(log.read_text(errors="replace"))]

    def reconcile_totals(self) -> Counter:
        """What the reconcile runs reported, added up."""
        totals: Counter = Counter()
        for result in self.results("reconcile"):
            counts = {key: int(value) for key, value in re.findall(r"'(\w+)': (\d+)", result)}
            totals.update(counts)
            totals["runs"] += 1
            totals["backlogged"] += bool(counts.get("backlog"))
        return totals


def sent_messages(folder: Path) -> dict[tuple[str, str], list[str]]:
    """(recipient, subject) of every email Django's file backend wrote: the Message-ID of each copy."""
    sent: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in folder.glob("*.log") if folder.exists() else []:
        headers: dict[str, str] = {}
        for line in path.read_text(errors="replace").splitlines():
            name, colon, value = line.partition(": ")
            if colon and name in ("Subject", "To", "Message-ID"):
                headers[name] = value
            if len(headers) == 3:
                sent[(headers["To"], headers["Subject"])].append(headers["Message-ID"])
                headers = {}
    return dict(sent)


def sent_mails(folder: Path) -> Counter:
    """(recipient, subject) of every email Django's file backend wrote, with how often."""
    return Counter({key: len(copies) for key, copies in sent_messages(folder).items()})


@dataclass
class Delivery:
    key: str
    job_id: str
    action: str
    received: float
    answered: float
    fault: str  # "" (answered 200), "500" or "timeout"


class Vendor:
    """The webhook system: a contact list that applies each job once per Idempotency-Key.

    A third of the calls answer 500 before doing anything. Some do the work and then
    answer too late (after the connector's timeout), so the caller cannot know it was
    done and must send it again. A call whose key was seen already gets the first
    answer again, without doing the work twice, as a careful receiver would.
    """

    def __init__(self, emails: list[str], *, seed: int, timeout: float, timeout_share: float) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.late = timeout + 0.5
        self.timeout_share = timeout_share
        self.contacts: dict[str, dict[str, Any]] = {e: {"email": e, "plan": "basic"} for e in emails}
        self.applied: dict[str, dict[str, Any]] = {}  # idempotency key -> the answer
        self.deliveries: list[Delivery] = []
        self.faults: Counter = Counter()
        self.replays = 0

    def __call__(self, request: Received) -> Answer:
        received = time.time()
        body = request.body if isinstance(request.body, dict) else {}
        key = request.headers.get("idempotency-key", "")
        with self.lock:
            roll = self.rng.random()
        fault = "500" if roll < 1 / 3 else "timeout" if roll < 1 / 3 + self.timeout_share else ""
        answer: Answer = (500, {"error": "vendor overloaded"})
        if fault != "500":
            answer = (200, self._apply(key, body))
        if fault == "timeout":
            time.sleep(self.late)  # the work is done; the answer comes after the caller gave up
        with self.lock:
            self.faults[fault or "ok"] += 1
            self.deliveries.append(
                Delivery(key, str(body.get("job_id")), str(body.get("action")), received, time.time(), fault)
            )
        return answer

    def _apply(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if key in self.applied:
                self.replays += 1
                return self.applied[key]
            email = (body.get("identifiers") or {}).get("email")
            contact = self.contacts.get(email)
            action = body.get("action")
            if action == "export":
                records = [{"category": "contacts", "fields": dict(contact)}] if contact else []
                answer = {"status": "completed", "records": records}
            elif action == "erase":
                answer = {"status": "completed", "affected": int(self.contacts.pop(email, None) is not None)}
            elif action == "rectify" and contact is not None:
                contact.update(body.get("changes") or {})
                answer = {"status": "completed", "affected": 1}
            else:
                answer = {"status": "completed", "affected": 0}
            self.applied[key] = answer
            return answer
