"""The officers' actions from the command line (the desk pages offer the same).

    manage.py desk approve  DSR-XXXX-XXXX --officer pat
    manage.py desk decide   DSR-XXXX-XXXX --officer pat --accept 1 --reject 2 "our records are right"
    manage.py desk keep     DSR-XXXX-XXXX --officer pat --system billing --ground legal_obligation --reason "tax law"
    manage.py desk withhold DSR-XXXX-XXXX --officer pat --system crm --category notes --reason "Art. 15(4)"
    manage.py desk release  DSR-XXXX-XXXX --officer pat
    manage.py desk reissue  DSR-XXXX-XXXX --officer pat
    manage.py desk close    DSR-XXXX-XXXX --officer pat
    manage.py desk deny     DSR-XXXX-XXXX --officer pat --reason "..."
    manage.py desk extend   DSR-XXXX-XXXX --officer pat --reason "..."
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dsr.core.models import DataSubjectRequest, SystemConnection
from dsr.desk import dispatch

ACTIONS = ("approve", "decide", "keep", "withhold", "release", "reissue", "close", "deny", "extend")


class Command(BaseCommand):
    help = "Officers' actions on a request: approve, decide, keep, withhold, release, reissue, close, deny, extend."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        for name in ACTIONS:
            p = sub.add_parser(name)
            p.add_argument("reference")
            p.add_argument("--officer", required=True, help="the officer's username (recorded in the audit trail)")
            if name in ("deny", "extend", "keep", "withhold"):
                p.add_argument("--reason", required=True, help="told to the person")
            if name in ("keep", "withhold"):
                p.add_argument("--system", required=True)
            if name == "keep":
                p.add_argument("--ground", required=True, help="legal_obligation, legal_claims, expression, …")
            if name == "withhold":
                p.add_argument("--category", required=True)
                p.add_argument("--record", type=int, help="one record's index (from the preview); else the category")
            if name == "decide":
                p.add_argument("--accept", type=int, nargs="*", default=[], help="correction numbers, from 1")
                p.add_argument("--reject", nargs=2, action="append", default=[], metavar=("NUMBER", "REASON"))

    def handle(self, *args, action, reference, officer, **options):
        user = get_user_model().objects.filter(username=officer, is_staff=True, is_active=True).first()
        if user is None:
            raise CommandError(f"no active staff user {officer!r}")
        request = DataSubjectRequest.objects.filter(reference=reference.strip().upper()).first()
        if request is None:
            raise CommandError(f"no request {reference}")
        data = self._data(request, action, options)
        try:
            with transaction.atomic():
                message = dispatch.run_request_action(action, request, data, user)
        except dispatch.REFUSALS as exc:
            raise CommandError(str(exc)) from exc
        request.refresh_from_db()
        self.stdout.write(f"{request.reference}: {message} (now {request.get_status_display().lower()})")

    def _data(self, request, action, options) -> dict:
        """The command's options in the shape the desk's dispatcher takes (as the API sends)."""
        data = {key: options.get(key) for key in ("reason", "ground", "category") if options.get(key)}
        if options.get("record") is not None:
            data["record"] = str(options["record"])
        if options.get("system"):
            system = SystemConnection.objects.filter(name=options["system"]).first()
            if system is None:
                raise CommandError(f"no connected system {options['system']!r}")
            data["system"] = str(system.pk)
            if action == "withhold":
                job = request.jobs.filter(system=system, action="export").first()
                if job is None:
                    raise CommandError(f"{system.name} has no export for this request")
                data["job"] = str(job.pk)
        if action == "decide":
            data["decisions"] = [{"index": n, "accept": True} for n in options["accept"]] + [
                {"index": int(n), "accept": False, "reason": why} for n, why in options["reject"]
            ]
        return data
