"""Beyond one machine: the web app and two worker hosts, each in its own network namespace.

Three namespaces on one bridge play three hosts. PostgreSQL and the broker (Redis) are
reached only over that network, through relays on the bridge's address, as other hosts
would reach them. Erasures are filed through the web app; both hosts' workers run the
jobs; one host's worker is killed mid-run. Every request must still complete, each
person's data must be erased once, and nobody else's touched.

Needs root, ``ip`` (iproute2) and ``socat``: CI has them (and fails without); elsewhere
the test says what is missing and skips.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command
from django.db import connection

from dsr.core.models import AuditEvent, ConnectorJob, DataSubjectRequest, Status, SystemConnection
from dsr.demo_shop.models import Customer, Order
from dsr.demo_shop.seed import SHOP_SYSTEMS
from dsr.engine import recovery
from tests.brokers import publishing_to
from tests.conftest import IN_CI
from tests.dsr.engine.test_worker import wait_for

ROOT = Path(__file__).resolve().parents[3]
PEOPLE = 30
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "not root (network namespaces need it)"
    for tool in ("ip", "socat"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


class Network:
    """A bridge with three namespaces on it: ``web``, ``host_a`` and ``host_b``."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(2)
        self.net = f"10.{random.randint(100, 250)}.{random.randint(1, 250)}"
        self.gateway = f"{self.net}.1"
        self.bridge = f"dsrbr{self.tag}"
        self.letters = {"web": "w", "host_a": "a", "host_b": "b"}
        self.hosts = {name: f"dsr{self.tag}{letter}" for name, letter in self.letters.items()}
        self.address = {name: f"{self.net}.{i + 2}" for i, name in enumerate(self.hosts)}
        self.processes: list[subprocess.Popen] = []

    def sh(self, *argv: str) -> None:
        subprocess.run(argv, check=True, capture_output=True)

    def up(self) -> None:
        self.sh("ip", "link", "add", self.bridge, "type", "bridge")
        self.sh("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        self.sh("ip", "link", "set", self.bridge, "up")
        for name, netns in self.hosts.items():
            outside, inside = f"dv{self.tag}{self.letters[name]}", f"dn{self.tag}{self.letters[name]}"
            self.sh("ip", "netns", "add", netns)
            self.sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
            self.sh("ip", "link", "set", inside, "netns", netns)
            self.sh("ip", "link", "set", outside, "master", self.bridge)
            self.sh("ip", "link", "set", outside, "up")
            self.sh("ip", "netns", "exec", netns, "ip", "addr", "add", f"{self.address[name]}/24", "dev", inside)
            self.sh("ip", "netns", "exec", netns, "ip", "link", "set", inside, "up")
            self.sh("ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up")

    def relay(self, port: int, log: Path) -> None:
        """The service on 127.0.0.1:port, offered on the bridge as other hosts would see it."""
        self.processes.append(subprocess.Popen(
            ["socat", f"TCP-LISTEN:{port},bind={self.gateway},fork,reuseaddr", f"TCP:127.0.0.1:{port}"],
            stdout=log.open("w"), stderr=subprocess.STDOUT,
        ))

    def run(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        process = subprocess.Popen(  # its own process group: the whole host can be killed
            ["ip", "netns", "exec", self.hosts[name], *argv],
            cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes.append(process)
        return process

    def down(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        for netns in self.hosts.values():
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)


@pytest.fixture
def network(tmp_path):
    missing = _missing()
    if missing:
        if IN_CI:
            pytest.fail(f"the two-host test cannot run: {missing}", pytrace=False)
        pytest.skip(missing)
    net = Network()
    try:
        net.up()
        yield net
    finally:
        net.down()
        for log in sorted(tmp_path.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-2000:]}")


def host_env(net: Network) -> dict[str, str]:
    """What every host is given: the database and the broker at the bridge's address."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    broker = f"redis://{net.gateway}:6379/{os.environ.get('REDIS_URL', '/15').rpartition('/')[2]}"
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{net.gateway}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": broker,
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "ALLOWED_HOSTS": net.address["web"],
        "DSR_JOB_LEASE_SECONDS": "3",
        "PYTHONUNBUFFERED": "1",
    }


def test_two_worker_hosts_share_the_work_and_one_dying_loses_nothing(network, tmp_path, capsys, settings):
    if connection.vendor != "postgresql":
        pytest.skip("the hosts share PostgreSQL over the network (SQLite is one file on one host)")
    settings.DSR_JOB_REQUEUE_AFTER_SECONDS = 2
    for i in range(PEOPLE + 1):  # the last one files nothing: their data must stay
        customer = Customer.objects.create(customer_number=f"N-{i}", email=f"n{i}@example.org", name=f"N {i}")
        Order.objects.bulk_create(Order(customer=customer, placed_on="2026-05-01", total=1, items="x") for _ in range(3))
    for values in SHOP_SYSTEMS:
        SystemConnection.objects.create(**values)
    call_command("issue_integration_token", "two-hosts")
    token = capsys.readouterr().out.strip()

    network.relay(connection.settings_dict["PORT"] or 5432, tmp_path / "relay-postgres.log")
    network.relay(6379, tmp_path / "relay-redis.log")
    env = host_env(network)
    network.run("web", [sys.executable, "-m", "gunicorn", "dsr.wsgi:application", "-b", "0.0.0.0:8000",
                        "-w", "2"], env, tmp_path / "web.log")
    worker = [sys.executable, "-m", "celery", "-A", "dsr", "worker", "--concurrency=2", "-l", "info"]
    host_a = network.run("host_a", [*worker, "-n", "a@%h"], env, tmp_path / "host_a.log")
    network.run("host_b", [*worker, "-n", "b@%h"], env, tmp_path / "host_b.log")

    web = f"http://{network.address['web']}:8000"
    with httpx.Client(base_url=web, timeout=10) as client:
        wait_for(lambda: _answers(client), what="the web app on its host")
        references = []
        for i in range(PEOPLE):
            response = client.post("/api/v1/requests/", json={"kind": "erasure", "email": f"n{i}@example.org",
                                                              "country": "DE"},
                                   headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 201, response.text
            references.append(response.json()["reference"])
            if i == PEOPLE // 3:  # host A's worker dies while the work is under way
                wait_for(lambda: "succeeded" in (tmp_path / "host_a.log").read_text(), what="host A to work")
                os.killpg(host_a.pid, signal.SIGKILL)  # the worker and its pool, at once

    requests = DataSubjectRequest.objects.filter(reference__in=references)

    def all_done() -> bool:
        with publishing_to(settings.CELERY_BROKER_URL):
            recovery.reconcile()  # what beat does every minute
        return requests.filter(status=Status.COMPLETED).count() == PEOPLE

    wait_for(all_done, timeout=120, what="every erasure to complete on the surviving host")
    for i in range(PEOPLE):
        customer = Customer.objects.get(customer_number=f"N-{i}")
        assert (customer.email, customer.name) == (None, None)
        assert not Order.objects.filter(customer=customer).exists()
    kept = Customer.objects.get(customer_number=f"N-{PEOPLE}")
    assert kept.email == f"n{PEOPLE}@example.org" and Order.objects.filter(customer=kept).count() == 3
    jobs = ConnectorJob.objects.filter(request__in=requests)
    assert jobs.count() == 2 * PEOPLE and set(jobs.values_list("status", flat=True)) == {"succeeded"}
    completed = AuditEvent.objects.filter(request__in=requests, verb="status.completed")
    assert completed.count() == PEOPLE  # each request completed once, never twice
    assert "succeeded" in (tmp_path / "host_b.log").read_text()  # both hosts did work
    call_command("verify_audit")


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/api/schema/").status_code == 200
    except httpx.TransportError:
        return False
