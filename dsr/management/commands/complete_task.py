import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dsr.core.audit import Actor
from dsr.core.models import ActorType, ConnectorJob, JobStatus
from dsr.desk.actions import ActionRefused, document_record
from dsr.engine import outcomes


class Command(BaseCommand):
    help = (
        "Tick off a waiting job (a manual task, or a system that reported by other means), "
        "with a note; for an access job, --records takes a JSON file of "
        '[{"category": ..., "fields": {...}}].'
    )

    def add_arguments(self, parser):
        parser.add_argument("job_id")
        parser.add_argument("--note", required=True)
        parser.add_argument("--officer", required=True, help="who did the task (recorded in the audit trail)")
        parser.add_argument("--affected", type=int, default=0)
        parser.add_argument("--records", help="JSON file of exported records (access/portability)")
        parser.add_argument("--file", help="a file found for an access request (e.g. a scanned letter)")
        parser.add_argument("--failed", action="store_true", help="the task could not be done")

    def handle(self, *args, job_id, note, officer, affected, records, file, failed, **options):
        job = ConnectorJob.objects.select_related("request", "system").filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"no job {job_id}")
        if job.status != JobStatus.WAITING:
            raise CommandError(f"job {job_id} is {job.status}, not waiting")
        payload = {"status": "failed" if failed else "completed", "affected": affected, "note": note,
                   "error": note if failed else "", "permanent": failed}
        if records:
            try:
                payload["records"] = json.loads(Path(records).read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read records from {records}: {exc}") from exc
        if file:
            try:
                content = Path(file).read_bytes()
                payload.setdefault("records", []).append(document_record(Path(file).name, content))
            except OSError as exc:
                raise CommandError(f"cannot read {file}: {exc.strerror}") from exc
            except ActionRefused as exc:
                raise CommandError(str(exc)) from exc
        status = outcomes.report(job, payload, actor=Actor(ActorType.OFFICER, officer))
        self.stdout.write(f"job {job_id}: {status}")
