"""The desk's reports: the dashboard's figures, CCPA §7102 metrics and §7101 request records."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dsr.core.models import ConnectorJob, DataSubjectRequest, Status, SystemConnection
from dsr.desk import reports
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

DASHBOARD = "/desk/reports/"
CCPA = "/desk/reports/ccpa/"
CCPA_CSV = "/desk/reports/ccpa.csv"
RECORDS_CSV = "/desk/reports/requests.csv"
MAX_DASHBOARD_QUERIES = 12


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime(year, month, day, hour, minute))


def make(*, closed_at=None, due_on=None, extended_due_on=None, outcome="", denial_reason="", **fields):
    """A request from the factory, then the fields the lifecycle would have set, written directly."""
    request = RequestFactory(**fields)
    updates = {"closed_at": closed_at, "outcome": outcome, "denial_reason": denial_reason,
               "extended_due_on": extended_due_on}
    if due_on is not None:
        updates["due_on"] = due_on
    DataSubjectRequest.objects.filter(pk=request.pk).update(**updates)
    request.refresh_from_db()
    return request


def figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}"[^>]*>([^<]*)<', html)
    assert match, f"no figure {name!r}"
    return match.group(1).strip()


def fail_jobs(system_name: str, failed: int, succeeded: int = 0) -> None:
    system, _ = SystemConnection.objects.get_or_create(name=system_name, defaults={"connector": "postgres"})
    actions = ["locate", "export", "erase", "rectify"]
    long_ago = timezone.now() - timedelta(days=1000)
    owners = [make(status=Status.COMPLETED, outcome="completed", received_at=long_ago, closed_at=long_ago)
              for _ in range(0, failed + succeeded, 4)]  # closed long ago: in no other figure
    for i in range(failed + succeeded):
        ConnectorJob.objects.create(
            request=owners[i // 4], system=system, action=actions[i % 4],
            status="failed" if i < failed else "succeeded", idempotency_key=f"{system_name}-{i}",
        )


@pytest.fixture
def dashboard_data():
    """On time 2 of 3 (one thanks to an extension); median 20 days; 3 open, 1 overdue; failures."""
    now, today = timezone.now(), timezone.localdate()
    make(status=Status.COMPLETED, outcome="completed", received_at=now - timedelta(days=40),
         closed_at=now - timedelta(days=30), due_on=today - timedelta(days=20))            # on time, 10 days
    make(status=Status.DENIED, outcome="denied", received_at=now - timedelta(days=50),
         closed_at=now - timedelta(days=30), due_on=today - timedelta(days=35))            # late, 20 days
    make(status=Status.COMPLETED, outcome="partial", received_at=now - timedelta(days=60),
         closed_at=now - timedelta(days=30), due_on=today - timedelta(days=40),
         extended_due_on=today - timedelta(days=25))                                       # on time, 30 days
    make(status=Status.COMPLETED, outcome="completed", received_at=now - timedelta(days=420),
         closed_at=now - timedelta(days=400), due_on=today - timedelta(days=410))         # too old: not counted
    make(status=Status.VERIFIED, due_on=today - timedelta(days=1))                         # overdue
    make(status=Status.IN_PROGRESS, due_on=today + timedelta(days=10))                     # open
    make(status=Status.AWAITING_VERIFICATION, due_on=today - timedelta(days=3),
         extended_due_on=today + timedelta(days=5))                                        # open, extended
    fail_jobs("crm", failed=3, succeeded=1)
    fail_jobs("billing", failed=1)


# --- the dashboard -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["officer", "administrator", "auditor"])
def test_dashboard_figures_for_every_role(client, desk_login, dashboard_data, role):
    desk_login(role)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    assert figure(html, "on-time-rate") == "67%"
    assert (figure(html, "on-time"), figure(html, "closed")) == ("2", "3")
    assert figure(html, "median-days") == "20.0"
    assert figure(html, "median-over") == "3"
    assert (figure(html, "open"), figure(html, "overdue")) == ("3", "1")
    assert 'href="/desk/?overdue=1"' in html
    assert 'data-system="crm" data-failures="3"' in html
    assert 'data-system="billing" data-failures="1"' in html
    assert html.index('data-system="crm"') < html.index('data-system="billing"')
    assert '<a href="/desk/reports/">Reports</a>' in html  # the base template's link
    assert "<script" not in html.split("</main>")[0]  # charts are server-drawn SVG


def test_weekly_series_by_iso_week_and_kind():
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    this_week = timezone.make_aware(datetime.combine(monday, datetime.min.time()))
    RequestFactory(kind="access", received_at=this_week)                       # first instant of this week
    RequestFactory(kind="access", received_at=this_week + timedelta(hours=1))
    RequestFactory(kind="erasure", received_at=this_week + timedelta(hours=2))
    RequestFactory(kind="portability", received_at=this_week - timedelta(weeks=3, hours=-1))
    RequestFactory(kind="erasure", received_at=this_week - timedelta(seconds=1))   # last week's Sunday
    RequestFactory(kind="access", received_at=this_week - timedelta(weeks=11, hours=-1))  # first of 12
    RequestFactory(kind="access", received_at=this_week - timedelta(weeks=12, hours=-1))  # too old

    weeks = reports.weekly_by_kind(today)

    assert len(weeks) == 12 and weeks[-1].monday == monday
    assert [w.monday.weekday() for w in weeks] == [0] * 12
    assert weeks[-1].counts == {"access": 2, "portability": 0, "rectification": 0, "erasure": 1}
    assert weeks[-2].counts["erasure"] == 1
    assert weeks[-4].counts["portability"] == 1
    assert weeks[0].counts["access"] == 1
    assert sum(w.total for w in weeks) == 6
    assert weeks[-1].iso == monday.isocalendar()[:2]


def test_dashboard_without_data(client, desk_login):
    desk_login("auditor")
    html = client.get(DASHBOARD).content.decode()
    assert figure(html, "on-time-rate") == "–"
    assert figure(html, "median-days") == "–"
    assert (figure(html, "open"), figure(html, "overdue")) == ("0", "0")
    assert 'data-figure="no-failures"' in html


def test_dashboard_queries_do_not_grow_with_the_data(client, desk_login, django_assert_max_num_queries):
    desk_login("officer")
    now, today = timezone.now(), timezone.localdate()

    def add(count: int, offset: int) -> None:
        statuses = [Status.COMPLETED, Status.DENIED, Status.VERIFIED, Status.IN_PROGRESS, Status.EXPIRED]
        kinds = ["access", "portability", "rectification", "erasure"]
        for i in range(count):
            status = statuses[i % len(statuses)]
            closed = status in (Status.COMPLETED, Status.DENIED, Status.EXPIRED)
            make(kind=kinds[i % 4], status=status, received_at=now - timedelta(days=(i * 3) % 80 + 1),
                 closed_at=now - timedelta(days=i % 7) if closed else None,
                 due_on=today + timedelta(days=(i % 9) - 4), outcome="completed" if closed else "")
        fail_jobs(f"system-{offset}", failed=min(count, 4))

    add(5, 0)
    with CaptureQueriesContext(connection) as small, django_assert_max_num_queries(MAX_DASHBOARD_QUERIES):
        assert client.get(DASHBOARD).status_code == 200
    add(55, 1)
    assert DataSubjectRequest.objects.count() >= 60
    with CaptureQueriesContext(connection) as large, django_assert_max_num_queries(MAX_DASHBOARD_QUERIES):
        assert client.get(DASHBOARD).status_code == 200
    print(f"dashboard queries: {len(small)} with 5 requests, {len(large)} with 60")
    assert len(small) == len(large)


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [DASHBOARD, CCPA, CCPA_CSV, RECORDS_CSV])
def test_anonymous_is_sent_to_the_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/desk/login/")


@pytest.mark.parametrize("url", [DASHBOARD, CCPA, CCPA_CSV, RECORDS_CSV])
def test_a_user_without_a_desk_role_is_refused(client, url):
    from django_otp import DEVICE_ID_SESSION_KEY

    from dsr.core.models import TOTPDevice

    user = get_user_model().objects.create_user("customer", "c@corp.example", "pw")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", [DASHBOARD, CCPA, CCPA_CSV, RECORDS_CSV])
def test_a_login_without_the_second_factor_is_sent_to_the_login(client, url):
    from dsr.core.roles import Role, grant

    user = get_user_model().objects.create_user("half", "h@corp.example", "pw")
    grant(user, Role.OFFICER)
    client.force_login(user)  # password only: no verified TOTP device in the session
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/desk/login/")


def test_reports_are_read_only(client, desk_login):
    desk_login("officer")
    assert client.post(DASHBOARD).status_code == 405
    assert client.post(RECORDS_CSV).status_code == 405


# --- CCPA §7102 metrics ----------------------------------------------------------------------


@pytest.fixture
def ccpa_year():
    """Last calendar year's CCPA requests (and some that must not be counted)."""
    y = timezone.localdate().year - 1
    ccpa = {"regime": "ccpa", "country": "US"}
    # know: access + portability
    make(kind="access", status=Status.COMPLETED, outcome="completed",
         received_at=at(y, 3, 1), closed_at=at(y, 3, 11), **ccpa)                      # 10 days
    make(kind="portability", status=Status.COMPLETED, outcome="partial",
         received_at=at(y, 4, 1), closed_at=at(y, 4, 21), **ccpa)                      # 20 days
    make(kind="access", status=Status.DENIED, outcome="denied", denial_reason="Not a consumer.",
         received_at=at(y, 5, 1), closed_at=at(y, 6, 30), **ccpa)                      # 60 days
    make(kind="access", status=Status.EXPIRED, outcome="unverified",
         received_at=at(y, 6, 1), closed_at=at(y, 6, 15), **ccpa)                      # not verified
    make(kind="portability", status=Status.IN_PROGRESS, received_at=at(y, 12, 31, 23, 59), **ccpa)
    # delete
    make(kind="erasure", status=Status.COMPLETED, outcome="completed",
         received_at=at(y, 2, 1), closed_at=at(y, 2, 6), **ccpa)                       # 5 days
    make(kind="erasure", status=Status.COMPLETED, outcome="completed",
         received_at=at(y, 2, 10), closed_at=at(y, 2, 18), **ccpa)                     # 8 days
    make(kind="erasure", status=Status.CANCELLED, outcome="duplicate",
         received_at=at(y, 2, 11), closed_at=at(y, 2, 11, 11), **ccpa)                 # received only
    # correct: the first instant of the year counts
    make(kind="rectification", status=Status.VERIFIED, received_at=at(y, 1, 1, 0, 0), **ccpa)
    # not counted: another regime, and the years either side
    make(kind="access", status=Status.COMPLETED, outcome="completed", regime="gdpr",
         received_at=at(y, 3, 1), closed_at=at(y, 3, 2))
    make(kind="erasure", status=Status.DENIED, outcome="denied",
         received_at=at(y - 1, 12, 31, 23, 59), closed_at=at(y, 1, 5), **ccpa)
    make(kind="erasure", status=Status.VERIFIED, received_at=at(y + 1, 1, 1, 0, 0), **ccpa)
    return y


EXPECTED = {
    "know": {"received": 5, "complied": 2, "denied": 1, "not_verified": 1, "median": "20.0", "mean": "30.0"},
    "delete": {"received": 3, "complied": 2, "denied": 0, "not_verified": 0, "median": "6.5", "mean": "6.5"},
    "correct": {"received": 1, "complied": 0, "denied": 0, "not_verified": 0, "median": "", "mean": ""},
}


def test_ccpa_metrics_figures(ccpa_year):
    metrics = {m["request_type"]: m for m in reports.ccpa_metrics(ccpa_year)}
    assert list(metrics) == ["know", "delete", "correct"]
    for name, want in EXPECTED.items():
        got = metrics[name]
        assert {k: got[k] for k in ("received", "complied", "denied", "not_verified")} == {
            k: want[k] for k in ("received", "complied", "denied", "not_verified")}, name
    # elapsed time: a daylight-saving change in the time zone moves these by an hour at most
    assert metrics["know"]["median_days"] == pytest.approx(20, abs=0.05)
    assert metrics["know"]["mean_days"] == pytest.approx(30, abs=0.05)
    assert metrics["delete"]["median_days"] == pytest.approx(6.5, abs=0.05)
    assert metrics["correct"]["median_days"] is None and metrics["correct"]["mean_days"] is None


def page_rows(html: str) -> dict[str, dict[str, str]]:
    rows = {}
    for name, body in re.findall(r'<tr data-type="(\w+)">(.*?)</tr>', html, re.DOTALL):
        rows[name] = {col: value.strip() for col, value in re.findall(r'data-col="(\w+)">([^<]*)<', body)}
    return rows


def test_ccpa_page_and_csv_agree(client, desk_login, ccpa_year):
    desk_login("auditor")
    page = client.get(CCPA, {"year": ccpa_year})
    assert page.status_code == 200
    shown = page_rows(page.content.decode())

    response = client.get(CCPA_CSV, {"year": ccpa_year})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="ccpa-metrics-{ccpa_year}.csv"'
    header, *rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert header == ["year", "request_type", "received", "complied_in_whole_or_part", "denied", "not_verified",
                      "median_days_to_respond", "mean_days_to_respond"]
    assert [r[1] for r in rows] == ["know", "delete", "correct"]
    for row in rows:
        year, name, received, complied, denied, not_verified, median, mean = row
        want = EXPECTED[name]
        assert year == str(ccpa_year)
        assert (int(received), int(complied), int(denied), int(not_verified)) == (
            want["received"], want["complied"], want["denied"], want["not_verified"])
        assert (median, mean) == (want["median"], want["mean"])
        on_page = shown[name]
        assert (on_page["received"], on_page["complied"], on_page["denied"], on_page["not_verified"]) == (
            received, complied, denied, not_verified)
        assert on_page["median_days"] == (median or "–") and on_page["mean_days"] == (mean or "–")


def test_ccpa_defaults_to_this_year(client, desk_login, ccpa_year):
    desk_login("officer")
    response = client.get(CCPA)
    assert response.status_code == 200
    assert response.context["year"] == timezone.localdate().year
    # last year's requests are not this year's; the one received on 1 January this year is
    assert page_rows(response.content.decode())["delete"]["received"] == "1"


@pytest.mark.parametrize("year", ["abc", "20x6", "1999", "99999", str(timezone.now().year + 1), "-2025", "٢٠٢٥"])
def test_a_bad_year_is_a_clear_400(client, desk_login, year):
    desk_login("officer")
    page = client.get(CCPA, {"year": year})
    assert page.status_code == 400
    assert "can't be used" in page.content.decode()
    assert 'name="year"' in page.content.decode()  # the picker is still there
    csv_response = client.get(CCPA_CSV, {"year": year})
    assert csv_response.status_code == 400
    assert b"year" in csv_response.content
    assert client.get(RECORDS_CSV, {"year": year}).status_code == 400


# --- CCPA §7101 request records --------------------------------------------------------------


def read_records(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return body, list(csv.reader(io.StringIO(body)))


def test_request_records_have_no_personal_identifiers(client, desk_login):
    desk_login("auditor")
    now = timezone.now()
    secret = {"email": "jane.secret@example.com", "name": "Jane Secret", "phone": "+1 555 0100"}
    kept = [
        make(kind="access", regime="ccpa", identifiers=secret, received_at=now - timedelta(days=3)),
        make(kind="erasure", regime="gdpr", identifiers={"email": "bob.hidden@example.org"},
             status=Status.DENIED, outcome="denied", closed_at=now - timedelta(days=1),
             denial_reason="=HYPERLINK(\"http://evil.example\",\"click\")", received_at=now - timedelta(days=20)),
        make(kind="rectification", regime="ccpa", requester_type="agent", status=Status.DENIED, outcome="denied",
             closed_at=now, received_at=now - timedelta(days=700),
             denial_reason="We hold nothing on jane.secret@example.com."),
    ]
    make(kind="access", regime="ccpa", received_at=now - timedelta(days=800))  # older than 24 months

    response = client.get(RECORDS_CSV)
    disposition = response["Content-Disposition"]
    body, (header, *rows) = read_records(response)

    assert disposition.startswith('attachment; filename="request-records-24-months-to-')
    assert header == ["reference", "regime", "request_type", "received_at", "requested_by", "status",
                      "closed_at", "response", "denial_basis"]
    assert [r[0] for r in rows] == [r.reference for r in sorted(kept, key=lambda r: r.received_at)]
    assert "@" not in body
    for word in ("jane", "Jane Secret", "bob.hidden", "555 0100"):
        assert word not in body
    by_reference = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    denied = by_reference[kept[1].reference]
    assert denied["denial_basis"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert (denied["regime"], denied["request_type"], denied["status"], denied["response"]) == (
        "gdpr", "erasure", "denied", "denied")
    assert denied["closed_at"] and denied["received_at"].startswith(str(kept[1].received_at.year))
    agent = by_reference[kept[2].reference]
    assert agent["requested_by"] == "agent"
    assert agent["denial_basis"] == "We hold nothing on [email removed]."
    assert by_reference[kept[0].reference]["closed_at"] == ""


def test_request_records_by_year_and_regime(client, desk_login, ccpa_year):
    desk_login("officer")
    response = client.get(RECORDS_CSV, {"year": ccpa_year, "regime": "ccpa"})
    assert response["Content-Disposition"] == f'attachment; filename="request-records-ccpa-{ccpa_year}.csv"'
    _, (_header, *rows) = read_records(response)
    assert len(rows) == 9  # the CCPA requests received that year, nothing else
    assert {r[1] for r in rows} == {"ccpa"}
    _, (_header, *all_regimes) = read_records(client.get(RECORDS_CSV, {"year": ccpa_year}))
    assert len(all_regimes) == 10
    assert client.get(RECORDS_CSV, {"regime": "nope"}).status_code == 400


@pytest.mark.parametrize("count", [1, 2, 7, 8])
def test_median_in_the_database_matches_python(count):
    import statistics

    start = timezone.now() - timedelta(days=200)
    hours = [(i * 37) % 101 + 1 for i in range(count)]  # unordered, with no ties
    for h in hours:
        make(status=Status.COMPLETED, outcome="completed", received_at=start, closed_at=start + timedelta(hours=h))
    make(status=Status.IN_PROGRESS, received_at=start)  # open: no duration
    stats = reports.duration_stats(DataSubjectRequest.objects.all())[None]
    assert stats["n"] == count
    assert stats["median_days"] == pytest.approx(statistics.median(hours) / 24)
    assert stats["mean_days"] == pytest.approx(statistics.mean(hours) / 24)
