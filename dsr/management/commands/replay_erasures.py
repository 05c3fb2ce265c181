from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from dsr.core.audit import Actor
from dsr.core.models import ActorType, SystemConnection
from dsr.results import erasure


class Command(BaseCommand):
    help = (
        "Run past erasures again in a system restored from a backup (erase is idempotent). "
        "--since limits it to erasures finished on or after a date (YYYY-MM-DD), e.g. the backup's date."
    )

    def add_arguments(self, parser):
        parser.add_argument("system")
        parser.add_argument("--since")
        parser.add_argument("--officer", required=True)

    def handle(self, *args, system, since, officer, **options):
        target = SystemConnection.objects.filter(name=system).first()
        if target is None:
            raise CommandError(f"no connected system {system!r}")
        after = None
        if since:
            try:
                after = timezone.make_aware(datetime.strptime(since, "%Y-%m-%d"))
            except ValueError as exc:
                raise CommandError("--since takes a date as YYYY-MM-DD") from exc
        queued = erasure.replay(target, since=after, actor=Actor(ActorType.OFFICER, officer))
        self.stdout.write(f"{len(queued)} erasure(s) queued again in {target.name}")
