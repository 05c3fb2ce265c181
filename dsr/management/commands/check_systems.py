from django.core.management.base import BaseCommand, CommandError

from dsr.engine.systems import check_all


class Command(BaseCommand):
    help = ("Run every enabled system's check() and print a table; exit non-zero if any fails. "
            "Warn for each system whose privacy metadata (for access answers) is not stated.")

    def handle(self, *args, **options):
        rows = check_all()
        if not rows:
            self.stdout.write("No connected systems are configured.")
            return
        width = max(len(r.name) for r in rows)
        for row in rows:
            mark = self.style.SUCCESS("ok  ") if row.ok else self.style.ERROR("FAIL")
            self.stdout.write(f"{mark} {row.name:<{width}}  {row.connector:<9} {row.message}")
        for row in rows:
            if row.missing:
                self.stdout.write(self.style.WARNING(
                    f"WARN {row.name}: privacy metadata not stated: {', '.join(row.missing)}. "
                    "Access answers say these are being checked until they are."))
        failed = [r.name for r in rows if not r.ok]
        if failed:
            raise CommandError(f"{len(failed)} of {len(rows)} systems failed: {', '.join(failed)}")
