"""``manage.py desk list``: the queue on the command line, so the demo's references are easy to find."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from dsr.core.crypto import identifier_hash
from dsr.core.models import Status
from tests.dsr.desk.users import make_user
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


def listed(*args: str) -> str:
    out = io.StringIO()
    call_command("desk", "list", *args, stdout=out)
    return out.getvalue()


def test_desk_list_shows_the_open_queue_soonest_due_first_with_filters():
    today = timezone.localdate()
    pat = make_user("pat", "officer", device=False)
    later = RequestFactory(kind="access", status=Status.VERIFIED, due_on=today + timedelta(days=20))
    sooner = RequestFactory(kind="erasure", regime="ccpa", status=Status.REVIEW, due_on=today + timedelta(days=2),
                            assignee=pat)
    closed = RequestFactory(kind="access", status=Status.COMPLETED,
                            identifiers={"email": "ana.demo@example.org"},
                            email_hash=identifier_hash("email", "ana.demo@example.org"))
    out = listed()
    lines = out.splitlines()
    assert lines[0].split() == ["reference", "kind", "regime", "status", "due", "left", "assignee"]
    assert [line.split()[0] for line in lines[1:]] == [sooner.reference, later.reference]
    assert "California (CCPA)" in lines[1] and "In review" in lines[1] and lines[1].endswith("pat")
    assert closed.reference not in out
    assert closed.reference in listed("--state", "all", "--search", "Ana.Demo@example.org")
    assert listed("--kind", "erasure").count("DSR-") == 1
    assert listed("--assignee", "none").count("DSR-") == 1
    assert listed("--status", "denied") == "No requests match.\n"
    with pytest.raises(CommandError, match="--kind: Unknown kind 'telepathy'"):
        listed("--kind", "telepathy")
    with pytest.raises(CommandError, match="no user 'nobody'"):
        listed("--assignee", "nobody")
