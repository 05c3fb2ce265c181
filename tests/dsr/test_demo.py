"""The demo `make run` loads: an erasure clears one person from every demo system, with
receipts, and an access request collects their records."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from dsr.core import storage
from dsr.core.models import DataSubjectRequest, Status
from dsr.demo_shop.models import AudienceMember, Customer, MarketingContact, Order, SupportTicket

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_requests_run_to_the_end(live_server, settings):
    settings.DSR_PUBLIC_URL = live_server.url  # the demo marketing webhook is served here
    call_command("load_demo")  # eager tasks run as each approval commits
    call_command("verify_audit")

    erasure = DataSubjectRequest.objects.get(kind="erasure")
    assert erasure.status == Status.COMPLETED
    receipts = {job.system.name: job for job in erasure.jobs.all()}
    assert set(receipts) == {"shop-db", "support-desk", "marketing", "newsletter"}
    assert all(job.status == "succeeded" for job in receipts.values())
    shop = receipts["shop-db"].result["receipt"]["detail"]["tables"]
    assert shop["customer"]["mode"] == "mask" and shop["customer"]["after"] == 0
    assert shop["orders"] == {"mode": "delete", "before": 3, "after": 0}
    ben = Customer.objects.get(customer_number="C-1002")
    assert (ben.email, ben.name, ben.address) == (None, None, None)
    assert not Order.objects.filter(customer=ben).exists()
    assert not SupportTicket.objects.filter(email="ben.demo@example.org").exists()
    assert not MarketingContact.objects.filter(email="ben.demo@example.org").exists()
    # The SaaS vendor (the demo playing Mailchimp, through the mailchimp template) deleted him.
    assert not AudienceMember.objects.filter(email="ben.demo@example.org").exists()
    newsletter = receipts["newsletter"].result
    assert newsletter["verified"] is True and newsletter["receipt"]["by_category"] == {"members": 1}
    # Everyone else is untouched.
    assert Order.objects.count() == 9 and MarketingContact.objects.count() == 3
    assert AudienceMember.objects.count() == 3

    access = DataSubjectRequest.objects.get(kind="access", status=Status.REVIEW)
    collected = {}
    for job in access.jobs.all():
        assert job.status == "succeeded", (job.system.name, job.error)
        for record in storage.read_records(job.export_file):
            collected.setdefault(record["category"], []).append(record["fields"])
    assert [c["email"] for c in collected["customer"]] == ["ana.demo@example.org"]
    assert len(collected["orders"]) == 3
    assert collected["tickets"][0]["email"] == "ana.demo@example.org"
    assert collected["contacts"] == [{"email": "ana.demo@example.org", "consented_on": "2025-12-01"}]
    [member] = collected["members"]
    assert (member["email_address"], member["merge_fields"]) == (
        "ana.demo@example.org", {"FNAME": "Ana", "LNAME": "Almeida"})
    assert [n["note"] for n in collected["notes"]] == ["Ana asked for the Portuguese edition."]
    assert sorted(t["name"] for t in collected["tags"]) == ["newsletter", "spring-sale"]


def test_the_demo_rectification_changes_the_shop_record(live_server, settings):
    from dsr.core.audit import Actor
    from dsr.engine import fanout
    from dsr.intake import verification
    from dsr.results import rectification

    settings.DSR_PUBLIC_URL = live_server.url
    call_command("load_demo")
    request = DataSubjectRequest.objects.get(kind="rectification")
    issued = verification.issue_code(request)
    verification.verify_code(request, issued.code)
    rectification.decide(request, {0: (True, "")}, actor=Actor.scheduler())
    fanout.approve(request, actor=Actor.scheduler())
    request.refresh_from_db()
    assert request.status == Status.REVIEW, [(j.system.name, j.status, j.error) for j in request.jobs.all()]
    assert {j.system.name for j in request.jobs.all()} == {"shop-db", "support-desk", "newsletter"}
    assert Customer.objects.get(customer_number="C-1003").address == "1 New Street, Leeds"
    newsletter = request.jobs.get(system__name="newsletter").result["receipt"]
    assert (newsletter["affected"], newsletter["detail"]["ignored"]) == (0, ["address"])  # not held there
