"""The dependency audit (.ci/audit.py, `make audit`) with the real pip-audit.

pip-audit reads vulnerabilities from an online service, which this machine cannot reach;
here it is pointed at a small OSV server on 127.0.0.1 that answers as OSV does.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "pip-audit: vulnerability data unreachable, dependencies not audited"


class OSV(BaseHTTPRequestHandler):
    """POST /v1/query {"package": {"name", "ecosystem"}, "version"}: the known vulnerabilities."""

    vulnerable: dict[str, dict] = {}
    asked: list[str] = []

    def do_POST(self):
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = query["package"]["name"]
        self.asked.append(name)
        vuln = self.vulnerable.get(name)
        body = json.dumps({"vulns": [vuln]} if vuln else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def osv():
    OSV.vulnerable, OSV.asked = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), OSV)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield OSV, f"http://127.0.0.1:{server.server_port}/v1/query"
    server.shutdown()
    server.server_close()


def run_audit(osv_url: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIP_AUDIT_VULNERABILITY_SERVICE": "osv", "PIP_AUDIT_OSV_URL": osv_url}
    return subprocess.run(
        [sys.executable, ".ci/audit.py", "--cache-dir", str(cache)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        check=False,
    )


def test_a_known_vulnerability_fails_the_audit(osv, tmp_path):
    service, url = osv
    service.vulnerable["django"] = {
        "id": "PYSEC-0000-1", "summary": "a made-up hole", "aliases": ["CVE-0000-0001"],
        "affected": [{"package": {"name": "django", "ecosystem": "PyPI"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0"}]}]}],
    }
    result = run_audit(url, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "django" in service.asked and "celery" in service.asked  # the installed packages
    assert "pip-audit: 1 known vulnerabilities:" in result.stdout
    assert "PYSEC-0000-1 (fixed in 99.0)" in result.stdout
    line = next(x for x in result.stdout.splitlines() if "PYSEC-0000-1" in x)
    assert line.split()[0] == "django"


def test_no_known_vulnerability_passes(osv, tmp_path):
    service, url = osv
    result = run_audit(url, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pip-audit: no known vulnerabilities" in result.stdout
    audited = int(result.stdout.split("pip-audit (osv): ")[1].split()[0])
    assert audited == len(set(service.asked)) > 20


def test_unreachable_data_is_said_and_does_not_fail(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_audit(f"http://127.0.0.1:{port}/v1/query", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == UNREACHABLE
