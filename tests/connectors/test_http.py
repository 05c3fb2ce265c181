"""The connectors' one HTTP helper: each POST must not rebuild the TLS context."""

from __future__ import annotations

import ssl

from connectors import http

from .webhook_server import WebhookServer

SECRET = "whsec-http-test"


def test_calls_share_one_verifying_tls_context(monkeypatch):
    built = []
    original = ssl.create_default_context

    def counting(*args, **kwargs):
        built.append(args or kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    with WebhookServer(SECRET) as server:
        answers = [
            http.post_json(server.url, {"action": "check", "n": n}, secret=SECRET) for n in range(3)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200]  # signed, so the server accepts
    assert len(server.received) == 3
    assert len(built) <= 1  # one context for the process (maybe built already), not one per call
    context = http._tls()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
