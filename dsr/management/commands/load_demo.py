from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from dsr import lifecycle, verification
from dsr.audit import Actor
from dsr.intake import Submission, submit_request
from dsr.models import DataSubjectRequest, Status

DEMO_USERNAME = "officer"
DEMO_PASSWORD = "demo-officer-pass"

DEMO_REQUESTS = [
    ("access", "ana.demo@example.org", "DE", "", Status.VERIFIED),
    ("erasure", "ben.demo@example.org", "US", "CA", Status.APPROVED),
    ("rectification", "chloe.demo@example.org", "GB", "", Status.AWAITING_VERIFICATION),
    ("portability", "dan.demo@example.org", "BR", "", Status.VERIFIED),
    ("access", "eve.demo@example.org", "CA", "", Status.AWAITING_VERIFICATION),
]


class Command(BaseCommand):
    help = "Load a demo officer and a few requests (once; run again and nothing changes)."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(username=DEMO_USERNAME).exists():
            self.stdout.write("Demo data already loaded.")
            return
        with transaction.atomic():
            officer = User.objects.create_superuser(
                DEMO_USERNAME, "officer@example.org", DEMO_PASSWORD
            )
            for kind, email, country, state, target in DEMO_REQUESTS:
                changes = [{"field": "postal address", "value": "1 New Street"}]
                request = submit_request(
                    Submission(
                        kind=kind,
                        email=email,
                        country=country,
                        subdivision=state,
                        changes=changes if kind == "rectification" else [],
                        channel="demo",
                    )
                )
                if target == Status.AWAITING_VERIFICATION:
                    continue
                issued = verification.issue_code(request)
                verification.verify_code(request, issued.code)
                if target == Status.APPROVED:
                    lifecycle.transition(request, Status.APPROVED, actor=Actor.officer(officer))
        count = DataSubjectRequest.objects.count()
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {count} requests."))
