"""Every YAML and shell example of the README and docs/ is run, as a reader would run it.

* YAML loads; a systems file is parsed by ``load_systems``' own parser; the template the
  docs show is the template the product ships.
* Shell: each command of each ``sh`` block runs as written, in a subprocess, against the
  test database, with its placeholders (``DSR-XXXX-XXXX``, ``JOB_ID``, the code from an
  email) filled from a world made for it. ``manage.py`` commands run with the project's
  ``.venv/bin/python``; ``curl`` against a live server; gunicorn, the worker and beat until
  they say they are ready. ``make`` targets start the app or this very suite, so they
  run as ``make -n`` (their commands are printed, not run). A command no runner knows
  fails the test: a new kind of example needs a runner here.
* The README's Python example, the JSON and the TOML examples are checked too.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import threading
import time
import tomllib
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core import mail
from django.db import connection
from django.utils import timezone

from connectors.memory import MemoryConnector
from dsr.core.audit import Actor
from dsr.core.models import (
    ConnectorJob,
    DataSubjectRequest,
    Kind,
    ResultBundle,
    Status,
    SystemConnection,
)
from dsr.engine import current, fanout
from dsr.engine.systems import parse
from dsr.results import access, rectification
from tests.dsr.desk.users import make_user
from tests.factories import RequestFactory

from .examples import ROOT, Block, blocks

PYTHON = str(ROOT / ".venv" / "bin" / "python")
REFERENCE = "DSR-XXXX-XXXX"
EMAIL = "docs.reader@example.org"
# The variables the systems examples refer to, with values their connectors accept.
EXAMPLE_ENV = {
    "SHOP_DSN": "postgresql://shop:secret@127.0.0.1:5432/shop_example",
    "SHOP_HASH_KEY": "a-long-random-hash-key",
    "NEWSLETTER_SECRET": "newsletter-signing-secret",
    "BILLING_DSN": "mysql://billing:secret@127.0.0.1:3306/billing",
    "STRIPE_SECRET_KEY": "sk_test_example",
    "ZENDESK_API_TOKEN": "zendesk-token",
}


def systems_file() -> str:
    """The systems file the docs show (``# systems.yaml: ...``), which commands call systems.yaml."""
    [block] = [b for b in blocks("yaml") if b.text.startswith("# systems.yaml")]
    return block.text


# --- YAML, JSON, TOML, Python ---------------------------------------------------------------

@pytest.mark.parametrize("block", blocks("yaml"), ids=lambda b: b.where)
def test_every_yaml_example_loads(block: Block, db):
    document = yaml.safe_load(block.text)
    assert isinstance(document, dict), block.where
    if "systems" in document:
        secrets = [v for system in document["systems"] for v in (system.get("secrets") or {}).values()]
        used = {name for value in secrets for name in re.findall(r"\$\{([A-Z_]+)\}", str(value))}
        assert used <= set(EXAMPLE_ENV), f"{block.where}: give the test a value for {used - set(EXAMPLE_ENV)}"
        parsed = parse(block.text, environ=EXAMPLE_ENV)
        assert [s["name"] for s in parsed] == [s["name"] for s in document["systems"]]
    else:  # a SaaS template, shown without its header comment: the very file shipped
        shipped = ROOT / "connectors" / "templates" / f"{document['name']}.yaml"
        assert document == yaml.safe_load(shipped.read_text()), f"{block.where} differs from {shipped.name}"


@pytest.mark.parametrize("block", blocks("json"), ids=lambda b: b.where)
def test_every_json_example_parses(block: Block):
    assert isinstance(json.loads(block.text), dict)


@pytest.mark.parametrize("block", blocks("toml"), ids=lambda b: b.where)
def test_every_toml_example_parses(block: Block):
    assert tomllib.loads(block.text)["project"]["entry-points"]


def test_the_readme_python_example_gives_the_dates_it_shows():
    [block] = [b for b in blocks("python") if b.path == "README.md"]
    namespace: dict = {"date": date}
    checked = 0
    for line in block.text.splitlines():
        code, _, comment = line.partition("#")
        if line.startswith("from "):
            exec(line, namespace)  # noqa: S102 - the README's own import line
        elif comment.strip():
            shown = comment.strip().split(":")[0]
            assert eval(code, namespace).isoformat() == shown, line
            checked += 1
    assert checked == 4


# --- shell: the runners ---------------------------------------------------------------------

def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def command_environment(**extra: str) -> dict[str, str]:
    """The test database and keys, tasks run in the command itself, and the examples' variables."""
    environ = {k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL", "EMAIL_URL"}}
    environ.update(DATABASE_URL=database_url(), DSR_TESTING="1", CELERY_TASK_ALWAYS_EAGER="1", **EXAMPLE_ENV)
    environ.update(extra)
    return environ


def production_environment(tmp_path: Path) -> dict[str, str]:
    """What the README's production section lists, pointed at the test database."""
    environ = {k: v for k, v in os.environ.items()
               if k not in {"DSR_TESTING", "CELERY_TASK_ALWAYS_EAGER", "DEBUG", "CELERY_BROKER_URL"}}
    environ.update(
        DATABASE_URL=database_url(), SECRET_KEY="p" * 50, ALLOWED_HOSTS="privacy.example.com",
        DSR_ENCRYPTION_KEY=base64.urlsafe_b64encode(settings.DSR_ENCRYPTION_KEY).decode(),
        DSR_PUBLIC_URL="https://privacy.example.com", DSR_VAR_DIR=str(tmp_path),
        EMAIL_URL="consolemail://", DEFAULT_FROM_EMAIL="privacy@example.com",
    )
    return environ


class World:
    """What the commands' placeholders stand for, made as a command needs it."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.request: DataSubjectRequest | None = None
        (tmp_path / "systems.yaml").write_text(systems_file())
        for name in ("officer", "pat"):
            make_user(name, "officer")
        records = [{"category": c, "fields": {"email": EMAIL, "text": f"a {c} record"}} for c in ("profile", "notes")]
        for name in ("billing", "crm"):
            SystemConnection.objects.create(name=name, connector="memory", config={"records": records})

    def _request(self, kind: str, status: str = Status.VERIFIED, **values) -> DataSubjectRequest:
        return RequestFactory(kind=kind, status=status, identifiers={"email": EMAIL}, **values)

    def _in_review(self, kind: str) -> DataSubjectRequest:
        request = self._request(kind)
        fanout.approve(request, actor=Actor.scheduler())  # on commit (this test commits): the jobs run
        request.refresh_from_db()
        assert request.status == Status.REVIEW, [(j.system.name, j.status, j.error) for j in request.jobs.all()]
        return request

    READY = {
        "approve": lambda r: r.status == Status.VERIFIED and all(c.get("decision") for c in r.changes or []),
        "decide": lambda r: r.status == Status.VERIFIED and r.kind == Kind.RECTIFICATION,
        "close": lambda r: r.status == Status.REVIEW and r.kind == Kind.RECTIFICATION,
        "release": lambda r: r.status == Status.REVIEW and r.kind in (Kind.ACCESS, Kind.PORTABILITY),
    }

    def reference_for(self, action: str) -> str:
        """The block's request if ``action`` can act on it now (a procedure), else a new one."""
        if self.request is not None:
            self.request.refresh_from_db()
            if self.READY.get(action, lambda r: False)(self.request):
                return self.request.reference
        self.request = self._prepare(action)
        return self.request.reference

    def _prepare(self, action: str) -> DataSubjectRequest:
        if action == "decide":
            changes = [{"field": "address", "value": "1 New Street"}, {"field": "name", "value": "X"}]
            request = self._request(Kind.RECTIFICATION, changes=changes)
            current.read_current(str(request.pk))  # as the person's verification queues it
            return request
        if action == "close":
            request = self._request(Kind.RECTIFICATION, changes=[{"field": "text", "value": "new"}])
            current.read_current(str(request.pk))  # as the person's verification queues it
            rectification.decide(request, {0: (True, "")}, actor=Actor.scheduler())
            fanout.approve(request, actor=Actor.scheduler())
            return request
        if action in ("withhold", "release"):
            return self._in_review(Kind.ACCESS)
        if action == "reissue":
            request = self._in_review(Kind.ACCESS)
            access.release(request, actor=Actor.scheduler())
            ResultBundle.objects.filter(request=request).update(expires_at=timezone.now() - timedelta(days=1))
            access.expire_bundles()
            return request
        return self._request(Kind.ERASURE, due_on=timezone.localdate() + timedelta(days=20))

    def job_id(self) -> str:
        paper, _ = SystemConnection.objects.get_or_create(name="paper-archive", defaults={"connector": "manual"})
        request = self._request(Kind.ERASURE, status=Status.IN_PROGRESS)
        return str(ConnectorJob.objects.create(request=request, system=paper, action="erase", status="waiting",
                                               idempotency_key=f"docs-{request.pk}").pk)

    def fill(self, argv: list[str]) -> list[str]:
        action = argv[3] if argv[2:3] == ["desk"] and len(argv) > 3 else ""
        filled = []
        for word in argv:
            if word == REFERENCE:
                word = self.reference_for(action)
            elif word == "JOB_ID":
                word = self.job_id()
            filled.append(word)
        return filled


def run_manage(argv: list[str], world: World, env: dict[str, str]) -> subprocess.CompletedProcess:
    assert argv[:2] == [".venv/bin/python", "manage.py"], argv
    command = [PYTHON, str(ROOT / "manage.py"), *world.fill(argv)[2:]]
    return subprocess.run(command, cwd=world.tmp_path, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def expect(argv: list[str], result: subprocess.CompletedProcess) -> None:
    """The outcome the docs describe for the command."""
    shown = f"{' '.join(argv)}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    if argv[2] == "check_systems":  # the docs' systems point at databases and vendors not here
        assert result.returncode == 1 and "systems failed" in result.stderr, shown
        assert re.search(r"^ok\s+paper-archive\s+manual\s+ok$", result.stdout, re.MULTILINE), shown
        return
    assert result.returncode == 0, shown
    if argv[2] == "desk" and argv[3] != "list":
        assert re.search(r"^DSR-[0-9A-Z]{4}-[0-9A-Z]{4}: ", result.stdout, re.MULTILINE), shown  # after any email printed


def shell_blocks(*, having: str | None = None, without: tuple[str, ...] = ()) -> list[Block]:
    chosen = []
    for block in blocks("sh"):
        programs = {argv[0] for argv in block.commands()}
        if (having is None or having in programs) and not programs & set(without):
            chosen.append(block)
    return chosen


LONG_RUNNING = (".venv/bin/gunicorn", ".venv/bin/celery")


def test_every_shell_command_has_a_runner():
    known = {".venv/bin/python", "make", "curl", *LONG_RUNNING}
    for block in blocks("sh"):
        for argv in block.commands():
            assert argv[0] in known, f"{block.where}: no runner for {argv[0]!r} (add one in {__name__})"
            if argv[0] == ".venv/bin/python":
                assert argv[1] == "manage.py", f"{block.where}: {argv}"


def _is_production_setup(block: Block) -> bool:
    return any(argv[2:4] == ["check", "--deploy"] for argv in block.commands() if len(argv) > 3)


def run_make(argv: list[str]) -> None:
    result = subprocess.run(["make", "-n", *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0 and result.stdout.strip(), f"{argv}: {result.stderr}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("block", [b for b in shell_blocks(without=("curl", *LONG_RUNNING))
                                   if not _is_production_setup(b)], ids=lambda b: b.where)
def test_every_shell_example_runs(block: Block, tmp_path):
    MemoryConnector.reset()
    world = World(tmp_path)
    env = command_environment()
    for argv in block.commands():
        if argv[0] == "make":
            run_make(argv)
        else:
            expect(argv, run_manage(argv, world, env))
    MemoryConnector.reset()


@pytest.mark.django_db(transaction=True)
def test_the_production_set_up_runs(tmp_path):
    [block] = [b for b in blocks("sh") if _is_production_setup(b)]
    env = production_environment(tmp_path)
    for argv in block.commands():
        result = subprocess.run([PYTHON, str(ROOT / "manage.py"), *argv[2:]], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=180, check=False)
        assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.get(username="admin").groups.get().name == "administrator"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("block", shell_blocks(having="curl"), ids=lambda b: b.where)
def test_every_curl_example_runs_against_the_server(block: Block, live_server):
    host = live_server.url.removeprefix("http://")
    answers: list[dict] = []
    for argv in block.commands():
        argv = [word.replace("localhost:8000", host) for word in argv]
        if answers:  # the next step takes the reference, the emailed code and the token from the last ones
            reference = answers[0]["reference"]
            [message] = [m for m in mail.outbox if reference in m.subject]
            code = re.search(r"^\s{4}(\d{6})\s*$", message.body, re.MULTILINE).group(1)
            token = answers[-1].get("status_token") or ""
            argv = [w.replace("DSR-…", reference).replace("483920", code).replace("<status_token>", token)
                    for w in argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        answers.append(json.loads(result.stdout))
    created, verified, status = answers
    assert created["status"] == "awaiting_verification" and created["regime"] == "ccpa"
    assert verified["status"] == "verified" and verified["status_token"]
    assert status["reference"] == created["reference"] and status["status"] == "verified"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _started(process: subprocess.Popen, ready: re.Pattern, seconds: float = 60) -> str:
    """Read the process's output until ``ready`` shows (or it ends, or time is up); then stop it."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and process.poll() is None and not ready.search("".join(lines)):
            time.sleep(0.1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        reader.join(timeout=5)
    return "".join(lines)


@pytest.mark.django_db(transaction=True)
def test_the_production_processes_start(tmp_path):
    [block] = shell_blocks(having=".venv/bin/gunicorn")
    env = production_environment(tmp_path)
    env.pop("REDIS_URL", None)  # the worker and beat talk to a broker of their own, under tmp_path
    env.update(SECURE_SSL_REDIRECT="false", ALLOWED_HOSTS="127.0.0.1")
    for argv in block.commands():
        program = str(ROOT / argv[0])
        if argv[0].endswith("gunicorn"):
            port = free_port()
            args = [program, *[w.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for w in argv[1:]]]
            process = subprocess.Popen(args, cwd=ROOT, env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                for _ in range(100):
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                            assert answer.status == 200 and b"Make a privacy request" in answer.read()
                            break
                    except OSError:
                        time.sleep(0.2)
                else:
                    pytest.fail("gunicorn did not answer")
            finally:
                _started(process, re.compile("."), seconds=1)
        else:
            ready = re.compile(r"celery@\S+ ready|beat: Starting")
            process = subprocess.Popen([program, *argv[1:]], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
            output = _started(process, ready)
            assert ready.search(output), f"{argv} did not start:\n{output}"


def test_the_readme_names_every_setting_the_app_reads():
    source = (ROOT / "dsr" / "settings.py").read_text()
    read = set(re.findall(r'(?:environ\.get|_read)\("([A-Z_]+)"', source))
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in read if f"`{name}`" not in readme)
    assert not missing, f"settings the README does not name: {missing}"
