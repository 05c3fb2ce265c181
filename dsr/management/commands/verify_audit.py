from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dsr.core.audit import verify_chain
from dsr.core.models import AuditEvent


class Command(BaseCommand):
    help = "Check the audit trail's hash chain; exit non-zero naming the first bad event."

    def handle(self, *args, **options):
        faults = verify_chain()
        first = next(faults, None)
        if first is not None:
            raise CommandError(f"Audit chain broken at {first}")
        count = AuditEvent.objects.count()
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {count} events verified."))
