"""The deadlines watch: one reminder per threshold, to the right people, and nothing twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dsr.core import audit
from dsr.core.audit import Actor
from dsr.core.models import AuditChainHead, AuditEvent, DataSubjectRequest, Status
from dsr.core.roles import Role, grant
from dsr.engine import tasks as engine_tasks
from dsr.engine import watch
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


def user(username, role=None, *, email=None, active=True, superuser=False):
    account = get_user_model().objects.create_user(
        username, f"{username}@corp.example" if email is None else email, "pw",
        is_active=active, is_superuser=superuser,
    )
    if role:
        grant(account, Role(role))
    return account


@pytest.fixture
def team(db):
    """Everyone who might be told, and a few who must not be."""
    return {
        "officer": user("olivia", "officer"),
        "admin": user("adam", "administrator"),
        "root": user("root", superuser=True),
        "auditor": user("audrey", "auditor"),
        "gone": user("gone", "officer", active=False),
        "mailless": user("mailless", "officer", email=""),
        "nobody": user("nobody"),
    }


TEAM_ADDRESSES = {"olivia@corp.example", "adam@corp.example", "root@corp.example"}


def today():
    return timezone.localdate()


def request_due(days, *, status=Status.IN_PROGRESS, **fields):
    """A request whose due date is ``days`` away (negative: passed)."""
    request = RequestFactory(status=status)
    due_on = today() + timedelta(days=days)
    DataSubjectRequest.objects.filter(pk=request.pk).update(due_on=due_on, **fields)
    request.refresh_from_db()
    return request


def markers(request):
    return DataSubjectRequest.objects.get(pk=request.pk).reminders_sent


def recipients():
    return sorted(address for message in mail.outbox for address in message.to)


def desk_link(request):
    return django_settings.DSR_PUBLIC_URL + reverse("desk:request", args=[request.pk])


def test_ten_days_out_gets_nothing(team):
    request = request_due(10, assignee=team["officer"])
    assert watch.remind() == 0
    assert mail.outbox == []
    assert markers(request) == []


def test_seven_days_out_reminds_the_assignee_only_and_only_once(team):
    request = request_due(7, assignee=team["admin"])
    assert watch.remind() == 1
    assert recipients() == ["adam@corp.example"]
    assert markers(request) == ["due:7"]
    assert "due in 7 days" in mail.outbox[0].body

    assert watch.remind() == 0
    assert len(mail.outbox) == 1


def test_seven_then_two_days_then_overdue_gives_three_reminders_in_all(team):
    request = request_due(7, assignee=team["officer"])
    start = today()
    steps = [(0, "due:7"), (1, None), (5, "due:2"), (6, None), (7, None), (8, "overdue"), (9, None)]
    for day, expected in steps:
        sent = watch.remind(today=start + timedelta(days=day))
        assert sent == (1 if expected else 0), day
        if expected:
            assert markers(request)[-1] == expected
    assert markers(request) == ["due:7", "due:2", "overdue"]
    assert len(mail.outbox) == 3
    assert "due in 2 days" in mail.outbox[1].body
    assert "overdue" in mail.outbox[2].body


def test_at_two_days_a_second_reminder(team):
    request = request_due(2, assignee=team["officer"], reminders_sent=["due:7"])
    assert watch.remind() == 1
    assert markers(request) == ["due:7", "due:2"]
    assert "due in 2 days" in mail.outbox[0].body
    assert watch.remind() == 0


def test_first_seen_at_one_day_gets_only_the_smallest_threshold(team):
    request = request_due(1, assignee=team["officer"])
    assert watch.remind() == 1
    assert markers(request) == ["due:2"]
    assert "due in 1 day" in mail.outbox[0].body
    assert watch.remind() == 0


def test_overdue_gets_an_overdue_alert_not_a_due_reminder(team):
    request = request_due(-3, assignee=team["officer"])
    assert watch.remind() == 1
    assert markers(request) == ["overdue"]
    body = mail.outbox[0].body
    assert "overdue" in body and "3 days overdue" in body
    assert watch.remind() == 0


def test_unassigned_goes_to_every_officer_administrator_and_superuser_with_an_email(team):
    request_due(7)
    assert watch.remind() == 3
    assert set(recipients()) == TEAM_ADDRESSES
    assert len(mail.outbox) == 3  # one each: auditors, inactive users and the mailless are left out


def test_an_inactive_or_mailless_assignee_falls_back_to_the_team(team):
    request_due(7, assignee=team["gone"])
    request_due(6, assignee=team["mailless"])
    assert watch.remind() == 3
    assert set(recipients()) == TEAM_ADDRESSES
    assert all(m.body.count("DSR-") == 2 for m in mail.outbox)


def test_one_email_per_recipient_listing_all_their_requests(team):
    mine = [request_due(7, assignee=team["officer"]), request_due(-1, assignee=team["officer"])]
    unassigned = request_due(2)
    theirs = request_due(5, assignee=team["admin"])
    assert watch.remind() == 3
    by_address = {m.to[0]: m for m in mail.outbox}
    assert set(by_address) == TEAM_ADDRESSES
    olivia = by_address["olivia@corp.example"].body
    for request in [*mine, unassigned]:
        assert request.reference in olivia
    assert theirs.reference not in olivia
    # the most urgent first
    order = [olivia.index(r.reference) for r in (mine[1], unassigned, mine[0])]
    assert order == sorted(order)
    adam = by_address["adam@corp.example"].body
    assert theirs.reference in adam and unassigned.reference in adam
    assert mine[0].reference not in adam
    assert "3 requests" in by_address["olivia@corp.example"].subject


@pytest.mark.parametrize(
    "status", [Status.COMPLETED, Status.DENIED, Status.CANCELLED, Status.EXPIRED]
)
def test_a_closed_request_gets_nothing(team, status):
    request_due(1, status=status, assignee=team["officer"])
    request_due(-5, status=status, acknowledge_by=today(), regime="ccpa")
    assert watch.remind() == 0
    assert mail.outbox == []


def test_an_extended_request_uses_its_extended_date(team):
    calm = request_due(1, assignee=team["officer"], extended_due_on=today() + timedelta(days=40))
    near = request_due(-5, assignee=team["officer"], extended_due_on=today() + timedelta(days=7))
    assert watch.remind() == 1
    assert markers(calm) == []
    assert markers(near) == ["due:7"]
    body = mail.outbox[0].body
    assert near.reference in body and calm.reference not in body
    assert (today() + timedelta(days=7)).strftime("%-d %b %Y") in body


def test_ccpa_acknowledgement_alert_once(team):
    def ccpa(ack_in, **fields):
        ack_by = today() + timedelta(days=ack_in)
        return request_due(40, regime="ccpa", assignee=team["officer"], acknowledge_by=ack_by,
                           **fields)

    late, early = ccpa(2), ccpa(3)
    done = ccpa(-1, acknowledged_at=timezone.now())
    assert watch.remind() == 1
    assert markers(late) == ["ack"]
    assert markers(early) == markers(done) == []
    assert "CCPA acknowledgement due" in mail.outbox[0].body
    assert watch.remind() == 0

    # a missed acknowledgement that has already passed is flagged too, once
    passed = request_due(40, regime="ccpa", acknowledge_by=today() - timedelta(days=4))
    assert watch.remind() == 3
    assert markers(passed) == ["ack"]


def test_ack_and_due_in_one_run_make_one_line_and_two_markers(team):
    request = request_due(2, regime="ccpa", assignee=team["officer"], acknowledge_by=today())
    assert watch.remind() == 1
    assert markers(request) == ["due:2", "ack"]
    body = mail.outbox[0].body
    assert body.count(request.reference) == 1
    assert "due in 2 days; CCPA acknowledgement due" in body
    events = AuditEvent.objects.filter(verb="deadline.reminder", request=request).order_by("seq")
    assert [e.details for e in events] == [
        {"marker": "due:2", "days_left": 2}, {"marker": "ack", "days_left": 0},
    ]


def test_the_email_has_the_reference_and_desk_link_and_not_the_persons_email(team):
    request = request_due(7)
    assert request.email
    watch.remind()
    for message in mail.outbox:
        html = message.alternatives[0][0]
        for part in (message.subject, message.body, html):
            assert request.email not in part
            assert "@example.com" not in part
        assert request.reference in message.body and request.reference in html
        assert desk_link(request) in message.body
        assert f'href="{desk_link(request)}"' in html
        assert "Access, EU (GDPR)" in message.body


def test_audit_events_are_written_and_the_chain_stays_intact(team):
    first = request_due(7, assignee=team["officer"])
    second = request_due(-2)
    audit.record("before", actor=Actor.scheduler())
    watch.remind()
    audit.record("after", actor=Actor.scheduler())
    events = list(AuditEvent.objects.filter(verb="deadline.reminder").order_by("seq"))
    assert {(e.request_id, e.details["marker"], e.details["days_left"]) for e in events} == {
        (first.pk, "due:7", 7), (second.pk, "overdue", -2),
    }
    assert all(e.actor_type == "scheduler" and e.actor_id == "beat" for e in events)
    assert list(audit.verify_chain()) == []
    assert AuditChainHead.objects.get().seq == AuditEvent.objects.count()


def test_large_runs_are_chunked_and_the_email_is_capped(team, monkeypatch):
    monkeypatch.setattr(watch, "CHUNK", 2)
    monkeypatch.setattr(watch, "MAX_LISTED", 3)
    requests = [request_due(days, assignee=team["officer"]) for days in (7, 6, 5, 4, 3, -1, 1)]
    assert watch.remind() == 1
    assert all(markers(r) for r in requests)
    body = mail.outbox[0].body
    assert "7 data-subject requests" in body
    listed = [r for r in requests if r.reference in body]
    assert listed == [requests[4], requests[5], requests[6]]  # -1, 1 and 3 days: the most urgent
    assert "and 4 more" in body
    assert list(audit.verify_chain()) == []


def test_thresholds_come_from_settings(team, settings):
    settings.DSR_REMINDER_DAYS = [10, 3]
    ten = request_due(9, assignee=team["officer"])
    seven = request_due(7, assignee=team["officer"])
    three = request_due(3, assignee=team["officer"])
    assert watch.remind() == 1
    assert markers(ten) == markers(seven) == ["due:10"]
    assert markers(three) == ["due:3"]


def test_a_failing_mailbox_does_not_keep_the_others_back_and_is_left_to_a_retrying_task(team, monkeypatch):
    deliver = watch.emails.deliver

    def flaky(to, subject, text, html):
        if to == "adam@corp.example":
            raise OSError("mailbox unavailable")
        deliver(to, subject, text, html)

    monkeypatch.setattr(watch.emails, "deliver", flaky)
    request = request_due(7)
    assert watch.remind() == 3  # one email queued per recipient
    assert set(recipients()) == TEAM_ADDRESSES - {"adam@corp.example"}
    assert markers(request) == ["due:7"]  # nothing is sent twice next hour
    assert watch.remind() == 0
    # Each email goes through a mail task that a worker retries with backoff (tests run
    # Celery eagerly, where a retry re-raises instead of waiting).
    assert OSError in engine_tasks.deliver.autoretry_for and engine_tasks.deliver.max_retries == 10


def test_the_task_and_its_schedule(team):
    request_due(7, assignee=team["officer"])
    assert engine_tasks.watch_deadlines() == 1
    entry = django_settings.CELERY_BEAT_SCHEDULE["watch-deadlines"]
    assert entry == {"task": "dsr.tasks.watch_deadlines", "schedule": 3600.0}


def _measure(count, team):
    """``count`` each of: overdue and unassigned, 5 days out for an officer, CCPA due and
    unacknowledged for an administrator (the same mix of markers whatever the count)."""
    for i in range(count):
        request_due(-1 - i % 10)
        request_due(3 + i % 5, assignee=team["officer"])
        ack_by = today() - timedelta(days=i % 4)
        request_due(i % 3, regime="ccpa", assignee=team["admin"], acknowledge_by=ack_by)
    with CaptureQueriesContext(connection) as queries:
        sent = watch.remind()
    assert sent == 3
    assert all(r.reminders_sent for r in DataSubjectRequest.objects.only("reminders_sent"))
    return [q["sql"] for q in queries.captured_queries]


def test_queries_do_not_grow_with_the_number_of_requests(team):
    AuditChainHead.objects.get_or_create(pk=1)
    few = _measure(3, team)
    mail.outbox.clear()
    many = _measure(30, team)

    def audit_inserts(queries):
        return [sql for sql in queries if sql.startswith(
            ('INSERT INTO "dsr_auditevent"', 'WITH appended AS (INSERT INTO "dsr_auditevent"'))]

    print(f"\nqueries ({connection.vendor}): {len(few)} for 9 requests (12 audit events), "
          f"{len(many)} for 90 (120 audit events); audit inserts {len(audit_inserts(few))} and "
          f"{len(audit_inserts(many))}")
    # The candidates, the team, and per chunk (watch.CHUNK requests): the lock, one UPDATE
    # per distinct marker list (here 3), the chain-head lock, the audit insert, the head
    # update (on PostgreSQL the insert moves the head in the same statement).
    others = 9 if connection.vendor == "postgresql" else 10
    assert len(few) - len(audit_inserts(few)) == len(many) - len(audit_inserts(many)) == others
    # The audit events go in one INSERT per chunk; SQLite's limit on query parameters
    # splits that into one per ~100 events.
    assert len(audit_inserts(few)) == 1
    assert len(audit_inserts(many)) <= (1 if connection.vendor == "postgresql" else 2)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_never_remind_twice(team, monkeypatch):
    monkeypatch.setattr(watch, "CHUNK", 5)  # many small transactions, to interleave the runs
    requests = [request_due(days % 8) for days in range(40)]
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            watch.remind()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for request in requests:
        assert len(markers(request)) == 1
        listed = [m for m in mail.outbox
                  if m.to == ["olivia@corp.example"] and request.reference in m.body]
        assert len(listed) == 1
    assert AuditEvent.objects.filter(verb="deadline.reminder").count() == 40
    assert list(audit.verify_chain()) == []


def test_an_extension_restarts_the_countdown_to_the_new_date(team):
    from dsr.results import closing

    request = request_due(2, regime="uk_gdpr")
    watch.remind()
    assert markers(request) == ["due:2"]
    closing.extend(request, reason="Many systems.", actor=Actor.scheduler())
    assert markers(request) == []
    new_date = DataSubjectRequest.objects.get(pk=request.pk).extended_due_on
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        extended_due_on=today() + timedelta(days=6), due_on=min(new_date, today() + timedelta(days=2))
    )
    watch.remind()
    assert markers(request) == ["due:7"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL storage parameter")
def test_the_requests_table_leaves_room_on_each_page_for_the_sweeps_updates():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'dsr_datasubjectrequest'")
        [options] = cursor.fetchone()
    assert "fillfactor=80" in (options or [])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="HOT updates are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_marking_a_request_leaves_the_indexes_alone(team):
    """The sweep's UPDATE changes no indexed column, so with room left on the page PostgreSQL
    writes it as a heap-only tuple: no new entry in any of the table's indexes. One request
    in eight is due, about the share a first pass marks."""
    requests = [
        RequestFactory(status=Status.IN_PROGRESS, assignee=team["officer"],
                       due_on=today() + timedelta(days=7 if i % 8 == 0 else 30))
        for i in range(32)
    ]

    def updates():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")  # this backend's counts, now
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                           "WHERE relname = 'dsr_datasubjectrequest'")
            return cursor.fetchone()

    updated, hot = updates()
    assert watch.remind() == 1
    assert [bool(markers(r)) for r in requests] == [i % 8 == 0 for i in range(32)]
    updated_after, hot_after = updates()
    assert (updated_after - updated, hot_after - hot) == (4, 4)
