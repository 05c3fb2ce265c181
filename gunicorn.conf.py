"""gunicorn's settings for the web: `gunicorn -c gunicorn.conf.py dsr.wsgi:application`.

The Dockerfile, docker-compose.yml and the README's "Running in production" use this
file. Each value can be changed through the environment variable named beside it.
In production gunicorn runs behind nginx (deploy/nginx.conf.template), which buffers
slow clients; the read deadlines below are what protects gunicorn when it runs alone.
"""

import os
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


# Where to listen. Behind nginx on the same machine: 127.0.0.1:8000 (the default);
# in a container: 0.0.0.0:8000.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# One process per core, each with a few threads: the app spends much of a request
# waiting on PostgreSQL, so threads keep a core busy while another waits, at less
# memory than more processes. On the 2-core machine the figures in docs/benchmarks.md
# come from: 2 x 4.
workers = _env_int("WEB_CONCURRENCY", os.cpu_count() or 2)
threads = _env_int("GUNICORN_THREADS", 4)
# gunicorn's gthread worker with a deadline for each request's headers
# (GUNICORN_HEADER_TIMEOUT, 10 s) and body (GUNICORN_BODY_TIMEOUT, 60 s): see dsr/web/server.py.
worker_class = "dsr.web.server.DeadlineThreadWorker"

# A worker whose main loop is silent this long is restarted; requests themselves
# may run longer (a large download), as the main loop keeps beating meanwhile.
timeout = _env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 30
# Seconds an idle kept-alive connection waits for its next request.
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)

# Request line, header count and header size: gunicorn's own caps, written out.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# The control socket (gunicornc) in the app's own var directory, not in the shared
# ~/.gunicorn/ of the user running it, readable by that user alone.
_var = Path(os.environ.get("DSR_VAR_DIR") or Path(__file__).resolve().parent / "var")
_var.mkdir(parents=True, exist_ok=True)
control_socket = str(_var / "gunicorn.ctl")
control_socket_mode = 0o600

# Access log on stdout. The path is logged without its query string (%(U)s, not
# %(r)s): a token in a query string never reaches the log; and the logger class
# writes a token carried in the path (the emails' status and verification links) as
# [token]. No referer either, for the same reason.
accesslog = "-"
logger_class = "dsr.web.server.TokenFreeLogger"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
errorlog = "-"
