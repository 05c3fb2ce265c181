"""What ``make run`` prints: each email once, as a person reads it; no broker warning per connection."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from django.core.mail import EmailMultiAlternatives

from dsr.core.console_mail import EmailBackend
from tests.dsr.test_settings import ROOT


def test_the_console_prints_each_email_once_as_text():
    stream = io.StringIO()
    body = "Hello,\n\nTo confirm it is you, enter this code on the request page:\n\n    483920\n\n" + "x" * 120
    message = EmailMultiAlternatives("Your privacy request DSR-7K3F-9Q2M: please confirm it is you", body,
                                     "privacy@localhost", ["ana@example.org"])
    message.attach_alternative(f"<p>{body}</p>", "text/html")
    EmailBackend(stream=stream).send_messages([message])
    out = stream.getvalue()
    assert out.count("483920") == 1 and "x" * 120 in out  # once, and no quoted-printable line breaks
    assert "To: ana@example.org\n" in out and "Subject: Your privacy request DSR-7K3F-9Q2M" in out
    assert "<p>" not in out and "Content-Transfer-Encoding" not in out and "(also sent as text/html)" in out
    assert "\n    483920\n" in out  # the code on a line of its own, as the README says


def test_the_default_broker_connects_without_kombus_hostname_warning(tmp_path):
    code = ("import django, logging; django.setup(); logging.basicConfig();"
            "from django.conf import settings; from kombu import Connection;"
            "print(settings.CELERY_BROKER_URL, settings.EMAIL_BACKEND);"
            "Connection(settings.CELERY_BROKER_URL).info()")
    environ = {k: v for k, v in os.environ.items()
               if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL"}}
    environ.update({"DSR_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "dsr.settings"})
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["filesystem://localhost/", "dsr.core.console_mail.EmailBackend"]
    assert "No hostname was supplied" not in result.stderr
