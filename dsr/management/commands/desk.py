"""The officers' actions from the command line (the desk pages offer the same).

    manage.py desk list                        # the open requests, soonest due first
    manage.py desk list --kind access --state all --search ana.demo@example.org
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

from dsr.core import labels
from dsr.core.models import DataSubjectRequest, SystemConnection
from dsr.desk import dispatch
from dsr.desk.queries import QueueFilter, days_left, queue

ACTIONS = ("approve", "decide", "keep", "withhold", "release", "reissue", "close", "deny", "extend")


class Command(BaseCommand):
    help = ("The queue (list), and officers' actions on a request: approve, decide, keep, withhold, release, "
            "reissue, close, deny, extend.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="the queue: open requests by default, soonest due first")
        listing.add_argument("--state", choices=["open", "closed", "all"], default="open")
        listing.add_argument("--status", help="e.g. verified, review")
        listing.add_argument("--kind", help="access, portability, rectification or erasure")
        listing.add_argument("--regime", help="e.g. gdpr, ccpa")
        listing.add_argument("--assignee", help="a username, or 'none' for the unassigned")
        listing.add_argument("--overdue", action="store_true")
        listing.add_argument("--due-within", type=int, metavar="DAYS")
        listing.add_argument("--search", default="", help="a reference, or the person's email address")
        listing.add_argument("--limit", type=int, default=50)
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

    def handle(self, *args, action, **options):
        if action == "list":
            return self._list(**options)
        return self._act(action, **options)

    def _list(self, *, state, status, kind, regime, assignee, overdue, due_within, search, limit, **_):
        params = {"state": state, "status": status or "", "kind": kind or "", "regime": regime or "",
                  "overdue": "1" if overdue else "", "due_within": "" if due_within is None else str(due_within),
                  "q": search, "sort": "due"}
        if assignee:
            found = get_user_model().objects.filter(username=assignee).first()
            if assignee != "none" and found is None:
                raise CommandError(f"no user {assignee!r}")
            params["assignee"] = "none" if assignee == "none" else str(found.pk)
        f, errors = QueueFilter.from_params(params)
        if errors:
            raise CommandError("; ".join(f"--{k.replace('_', '-')}: {v}" for k, v in errors.items()))
        rows = list(queue(f, user=None)[: max(limit, 1)])
        if not rows:
            self.stdout.write("No requests match.")
            return
        self.stdout.write(f"{'reference':<14}  {'kind':<13}  {'regime':<24}  {'status':<22}  {'due':<11}  "
                          f"{'left':>4}  assignee")
        for r in rows:
            left = str(days_left(r)) if r.is_open else "-"
            self.stdout.write(
                f"{r.reference:<14}  {labels.kind(r.kind):<13}  {labels.regime(r.regime):<24}  "
                f"{r.get_status_display():<22}  {r.effective_due_on:%d %b %Y}  {left:>4}  "
                f"{r.assignee.username if r.assignee else '-'}"
            )

    def _act(self, action, *, reference, officer, **options):
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
