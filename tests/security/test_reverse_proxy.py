"""Slow clients do not stop the site: behind the documented nginx, and gunicorn alone.

gunicorn runs with the repository's gunicorn.conf.py; nginx with deploy/nginx.conf.template
(as docker-compose.yml runs it: TLS, static files, buffering), both on loopback ports.
The slow clients send a request line and headers, or headers and a body, one byte every
few seconds and never finish.

- Behind nginx they hold nginx's connections, which cost it next to nothing, and never a
  gunicorn thread: the site answers others at once.
- gunicorn alone, in the shipped setup (2 workers x 4 threads), answers others too.
- gunicorn alone with fewer threads than slow clients: each slow client holds a thread
  only until its read deadline (dsr/web/server.py), so others wait at most about that long;
  with the deadlines set out of reach, the same clients stop the site. Which is why
  production runs behind the proxy: the deadlines bound the damage, nginx removes it.

Needs nginx (CI installs Debian's package and fails without it; elsewhere: skipped).
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import IN_CI

pytestmark = pytest.mark.nginx

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
QUICK = 1.0  # seconds: an ordinary answer while slow clients hold on


def nginx_binary() -> str:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        if IN_CI:
            pytest.fail("nginx is not installed; CI must test the documented proxy", pytrace=False)
        pytest.skip("nginx is not installed")
    return nginx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def render_template(values: dict[str, str]) -> str:
    """What the nginx image's envsubst step does: ${DSR_...} from the environment, $nginx's own kept."""
    text = TEMPLATE.read_text()
    names = set(re.findall(r"\$\{(DSR_[A-Z_]+)\}", text))
    assert names == set(values), f"the template's variables changed: {sorted(names)}"
    return re.sub(r"\$\{(DSR_[A-Z_]+)\}", lambda m: values[m.group(1)], text)


def nginx_config(folder: Path, upstream: str, http_port: int, https_port: int) -> Path:
    cert, key = self_signed(folder)
    site = render_template({
        "DSR_SERVER_NAME": "localhost",
        "DSR_HTTP_LISTEN": f"127.0.0.1:{http_port}",
        "DSR_HTTPS_LISTEN": f"127.0.0.1:{https_port}",
        "DSR_TLS_CERTIFICATE": str(cert),
        "DSR_TLS_CERTIFICATE_KEY": str(key),
        "DSR_UPSTREAM": upstream,
        "DSR_STATIC_ROOT": str(ROOT / "dsr" / "static"),
    })
    (folder / "site.conf").write_text(site)
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = folder / "nginx.conf"
    # The outer part is Debian's and the nginx image's nginx.conf, cut down; the
    # repository's file is what goes inside http { }.
    # nginx's workers run as nobody unless told otherwise: run as root (CI), they would be
    # refused a checkout in a private folder (mktemp -d makes it 0700) and answer 403.
    user = "user root;\n" if os.geteuid() == 0 else ""
    main.write_text(f"""{user}daemon off;
worker_processes 1;
pid {folder / 'nginx.pid'};
error_log stderr;
events {{ worker_connections 512; }}
http {{
    default_type application/octet-stream;
{temp}
    include {folder / 'site.conf'};
}}
""")
    return main


def answers(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url, timeout=2, verify=False)
            return
        except httpx.TransportError:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"{url} did not start:\n{log.read_text()}"
            time.sleep(0.2)


@contextmanager
def started(argv: list[str], env: dict[str, str], log: Path, url: str) -> Iterator[None]:
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        answers(url, process, log)
        yield
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def gunicorn_env(tmp_path: Path, port: int, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DSR_TESTING"}
    env.update({
        "GUNICORN_BIND": f"127.0.0.1:{port}", "DEBUG": "false", "DSR_VAR_DIR": str(tmp_path / "var"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "DSR_TRUSTED_PROXIES": "1",
        "SECURE_SSL_REDIRECT": "false",
    })
    env.update(settings)
    return env


@contextmanager
def gunicorn(tmp_path: Path, **settings: str) -> Iterator[int]:
    port = free_port()
    with started([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "dsr.wsgi:application"],
                 gunicorn_env(tmp_path, port, **settings), tmp_path / "gunicorn.log",
                 f"http://127.0.0.1:{port}/nothing-here"):
        yield port


class SlowClients:
    """Connections that send their request a byte every `interval` seconds and never finish.

    Half stall in their headers, half in a body they announced. `cut` counts the ones
    the server has closed.
    """

    def __init__(self, port: int, count: int, interval: float, tls: bool = False) -> None:
        self.port, self.interval = port, interval
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        self.sockets = []
        for i in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if tls:
                sock = context.wrap_socket(sock, server_hostname="localhost")
            if i % 2:
                sock.sendall(b"POST /api/v1/requests/ HTTP/1.1\r\nHost: localhost\r\n"
                             b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{")
            else:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            self.sockets.append(sock)
        self.cut: set[int] = set()
        self.received = [b""] * count
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.trickle, daemon=True)
        self.thread.start()

    def trickle(self) -> None:
        while not self.stop.wait(self.interval):
            for i, sock in enumerate(self.sockets):
                if i in self.cut:
                    continue
                try:
                    sock.sendall(b"a")
                    sock.setblocking(False)
                    try:
                        while chunk := sock.recv(4096):
                            self.received[i] += chunk
                        self.cut.add(i)  # the server closed it
                    except (BlockingIOError, ssl.SSLWantReadError):
                        pass
                    finally:
                        sock.setblocking(True)
                except OSError:
                    self.cut.add(i)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


@contextmanager
def slow_clients(port: int, count: int, interval: float, tls: bool = False) -> Iterator[SlowClients]:
    clients = SlowClients(port, count, interval, tls)
    try:
        time.sleep(1)  # let each reach a thread, if a thread is what it would hold
        yield clients
    finally:
        clients.close()


@contextmanager
def gunicorn_held(tmp_path: Path, count: int, interval: float, **settings: str) -> Iterator[tuple[int, SlowClients]]:
    """gunicorn alone, with `count` slow clients sending a byte every `interval` seconds."""
    with gunicorn(tmp_path, **settings) as web, slow_clients(web, count, interval) as clients:
        yield web, clients


def answer_times(url: str, seconds: float, give_up: float) -> list[float]:
    """Ask for `url` again and again for `seconds`; how long each answer took."""
    times = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        began = time.monotonic()
        try:
            httpx.get(url, timeout=give_up, verify=False)
        except httpx.TimeoutException:
            times.append(float("inf"))
            break
        times.append(time.monotonic() - began)
        time.sleep(0.25)
    return times


def test_behind_nginx_the_site_keeps_answering_while_slow_clients_hold_on(tmp_path):
    """The read deadlines set out of reach and one gunicorn thread: nginx alone shields it."""
    nginx = nginx_binary()
    with ExitStack() as stack:
        web = stack.enter_context(gunicorn(tmp_path, WEB_CONCURRENCY="1", GUNICORN_THREADS="1",
                                           GUNICORN_HEADER_TIMEOUT="600", GUNICORN_BODY_TIMEOUT="600"))
        http_port, https_port = free_port(), free_port()
        config = nginx_config(tmp_path, f"127.0.0.1:{web}", http_port, https_port)
        site = f"https://127.0.0.1:{https_port}"
        stack.enter_context(started([nginx, "-c", str(config), "-p", str(tmp_path)], dict(os.environ),
                                    tmp_path / "nginx.log", site + "/nothing-here"))

        with slow_clients(https_port, count=6, interval=3, tls=True) as clients:
            times = answer_times(site + "/nothing-here?t=secret-token-in-a-url", seconds=8, give_up=10)
            # The emails' links carry their token in the path itself.
            for link in ("/requests/DSR-AAAA-BBBB/open/secret-token-in-a-path/",
                         "/requests/DSR-AAAA-BBBB/verify/secret-token-in-a-path/"):
                httpx.get(site + link, verify=False, timeout=10)
            assert not clients.cut  # nginx is still waiting for all of them
        assert max(times) < QUICK, times

        # Plain HTTP is sent to HTTPS; static files come from nginx, the rest from gunicorn.
        redirect = httpx.get(f"http://127.0.0.1:{http_port}/status/?t=x", headers={"Host": "localhost"})
        assert redirect.status_code == 301
        assert redirect.headers["location"] == "https://localhost/status/?t=x"
        static = httpx.get(site + "/static/dsr/public.css", verify=False)
        assert static.status_code == 200 and "cache-control" in static.headers
        assert b"public.css" not in (tmp_path / "gunicorn.log").read_bytes()

    # Neither access log holds the token from the query string.
    for log in ("nginx.log", "gunicorn.log"):
        text = (tmp_path / log).read_text()
        assert "/nothing-here" in text, text
        assert "/requests/DSR-AAAA-BBBB/open/[token]/" in text, text
        assert "/requests/DSR-AAAA-BBBB/verify/[token]/" in text, text
        assert "secret-token" not in text, text


def test_gunicorn_alone_as_shipped_keeps_answering_three_slow_clients(tmp_path):
    """The issue's case: three sockets sending one byte every 5 s, against the shipped setup."""
    with gunicorn_held(tmp_path, 3, 5, WEB_CONCURRENCY="2", GUNICORN_THREADS="4") as (web, _):
        times = answer_times(f"http://127.0.0.1:{web}/nothing-here", seconds=8, give_up=10)
    assert max(times) < QUICK, times


def test_gunicorn_alone_frees_a_thread_held_by_a_slow_client_at_its_deadline(tmp_path):
    """More slow clients than threads: each holds one only until its read deadline."""
    deadline = 2
    with gunicorn_held(tmp_path, 3, 1, WEB_CONCURRENCY="1", GUNICORN_THREADS="2",
                       GUNICORN_HEADER_TIMEOUT=str(deadline), GUNICORN_BODY_TIMEOUT=str(deadline)) as (web, clients):
        times = answer_times(f"http://127.0.0.1:{web}/nothing-here", seconds=6, give_up=15)
        cut, received = set(clients.cut), clients.received
    # At worst an answer waits for a slow client ahead of it, then another: 2 deadlines.
    assert max(times) < 2 * deadline + QUICK, times
    assert cut == {0, 1, 2}, "the server should have closed every slow connection"
    # A header cut short gets no answer; a body cut short reaches the app short: a 400, never a 500.
    assert received[0] == received[2] == b""
    assert received[1].startswith(b"HTTP/1.1 400 "), received[1][:200]


def test_without_read_deadlines_the_same_slow_clients_stop_gunicorn_alone(tmp_path):
    """The control for the test above: deadlines out of reach, and nothing answers."""
    with gunicorn_held(tmp_path, 3, 1, WEB_CONCURRENCY="1", GUNICORN_THREADS="2",
                       GUNICORN_HEADER_TIMEOUT="600", GUNICORN_BODY_TIMEOUT="600") as (web, clients):
        times = answer_times(f"http://127.0.0.1:{web}/nothing-here", seconds=1, give_up=6)
        assert not clients.cut
    assert times == [float("inf")], times


def test_every_way_to_run_the_web_uses_the_repository_config():
    """The Dockerfile, compose, the Procfile and the README all start gunicorn with gunicorn.conf.py."""
    import yaml

    assert 'CMD ["gunicorn", "-c", "gunicorn.conf.py", "dsr.wsgi:application"]' in (ROOT / "Dockerfile").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "gunicorn -c gunicorn.conf.py dsr.wsgi:application" in " ".join(compose["web"]["command"])
    assert "ports" not in compose["web"]  # reached only through nginx
    assert "./deploy/nginx.conf.template:/etc/nginx/templates/default.conf.template:ro" in compose["proxy"]["volumes"]
    template_names = set(re.findall(r"\$\{(DSR_[A-Z_]+)\}", TEMPLATE.read_text()))
    assert template_names == set(compose["proxy"]["environment"])
    assert "web: .venv/bin/gunicorn -c gunicorn.conf.py dsr.wsgi:application" in (ROOT / "Procfile").read_text()
    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin/gunicorn -c gunicorn.conf.py dsr.wsgi:application" in readme
    assert "--workers" not in readme
