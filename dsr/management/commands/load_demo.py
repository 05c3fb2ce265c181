from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from dsr.core.audit import Actor
from dsr.core.models import DataSubjectRequest, SystemConnection, TOTPDevice
from dsr.demo_shop.seed import SHOP_SYSTEMS, marketing_system, newsletter_system, seed_shop
from dsr.desk import actions
from dsr.engine import fanout
from dsr.intake import verification
from dsr.intake.submission import Submission, submit_request

DEMO_USERNAME = "officer"
DEMO_PASSWORD = "demo-officer-pass"

# (kind, email, country, state, what happens to it); Ana's access request is the officer's own
DEMO_REQUESTS = [
    ("erasure", "ben.demo@example.org", "US", "CA", "approve"),
    ("access", "ana.demo@example.org", "PT", "", "approve and assign"),
    ("portability", "dan.demo@example.org", "BR", "", "verify"),
    ("rectification", "chloe.demo@example.org", "GB", "", "file"),
    ("access", "eve.demo@example.org", "CA", "", "file"),
]


class Command(BaseCommand):
    help = (
        "Load the demo: an officer, a small shop database, the systems that reach it, and "
        "requests (an erasure and an access request run by the worker). Once only."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(username=DEMO_USERNAME).exists():
            self.stdout.write("Demo data already loaded.")
            return
        with transaction.atomic():
            officer = User.objects.create_superuser(DEMO_USERNAME, "officer@example.org", DEMO_PASSWORD)
            TOTPDevice.objects.create(user=officer, name="demo authenticator", confirmed=True)
            seed_shop()
            for values in [*SHOP_SYSTEMS, marketing_system(), newsletter_system()]:
                SystemConnection.objects.create(**values)
            for kind, email, country, state, step in DEMO_REQUESTS:
                changes = [{"field": "address", "value": "1 New Street, Leeds"}]
                request = submit_request(
                    Submission(
                        kind=kind, email=email, country=country, subdivision=state, channel="demo",
                        changes=changes if kind == "rectification" else [],
                    )
                )
                if step == "file":
                    continue
                issued = verification.issue_code(request)
                verification.verify_code(request, issued.code)
                if step.startswith("approve"):
                    fanout.approve(request, actor=Actor.officer(officer))
                if step.endswith("assign"):  # so that the desk's "Mine" has something in it
                    actions.assign(request, officer, actor=Actor.officer(officer))
        count = DataSubjectRequest.objects.count()
        self.stdout.write(self.style.SUCCESS(
            f"Demo data loaded: {count} requests, {SystemConnection.objects.count()} connected systems."
        ))
