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

from dsr import closing, erasure, execution, rectification, results
from dsr.audit import Actor
from dsr.lifecycle import InvalidTransition
from dsr.models import DataSubjectRequest, Status, SystemConnection

REFUSALS = (
    InvalidTransition,
    execution.NotReadyToApprove,
    rectification.DecisionRefused,
    erasure.ExceptionRefused,
    results.NotReady,
    closing.CannotClose,
)


class Command(BaseCommand):
    help = "Officers' actions on a request: approve, decide, keep, withhold, release, reissue, close, deny, extend."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        for name in ("approve", "decide", "keep", "withhold", "release", "reissue", "close", "deny", "extend"):
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
        actor = Actor.officer(user)
        try:
            with transaction.atomic():
                message = getattr(self, f"do_{action}")(request, actor, user, options)
        except REFUSALS as exc:
            raise CommandError(str(exc)) from exc
        request.refresh_from_db()
        self.stdout.write(f"{request.reference}: {message} (now {request.get_status_display().lower()})")

    def do_approve(self, request, actor, user, options):
        execution.approve(request, actor=actor)
        return "approved"

    def do_decide(self, request, actor, user, options):
        decisions = {n - 1: (True, "") for n in options["accept"]}
        for number, reason in options["reject"]:
            decisions[int(number) - 1] = (False, reason)
        rectification.decide(request, decisions, actor=actor)
        return f"{len(decisions)} correction(s) decided"

    def do_keep(self, request, actor, user, options):
        system = self._system(options["system"])
        erasure.add_exception(request, system, ground=options["ground"], reason=options["reason"],
                              actor=actor, user=user)
        return f"data in {system.name} kept ({options['ground']})"

    def do_withhold(self, request, actor, user, options):
        system = self._system(options["system"])
        job = request.jobs.filter(system=system, action="export").first()
        if job is None:
            raise CommandError(f"{system.name} has no export for this request")
        results.withhold(request, job, category=options["category"], record_index=options["record"],
                         reason=options["reason"], actor=actor, user=user)
        return f"{options['category']} in {system.name} withheld"

    def do_release(self, request, actor, user, options):
        item = results.release(request, actor=actor, user=user)
        return f"bundle released ({item.manifest['total_records']} records, sha256 {item.sha256[:12]}…)"

    def do_reissue(self, request, actor, user, options):
        item = results.reissue(request, actor=actor, user=user)
        return f"bundle re-issued, available until {item.expires_at:%Y-%m-%d}"

    def do_close(self, request, actor, user, options):
        if request.status != Status.REVIEW:
            raise CommandError("only a request in review can be closed this way")
        if request.kind in results.EXPORT_KINDS:
            raise CommandError("an access or portability request is closed by releasing its bundle")
        closing.complete(request, actor=actor)
        return "closed"

    def do_deny(self, request, actor, user, options):
        closing.deny(request, reason=options["reason"], actor=actor)
        return "denied"

    def do_extend(self, request, actor, user, options):
        closing.extend(request, reason=options["reason"], actor=actor)
        request.refresh_from_db()
        return f"extended to {request.extended_due_on:%Y-%m-%d}"

    def _system(self, name: str) -> SystemConnection:
        system = SystemConnection.objects.filter(name=name).first()
        if system is None:
            raise CommandError(f"no connected system {name!r}")
        return system
