from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dsr import execution
from dsr.audit import Actor
from dsr.lifecycle import InvalidTransition
from dsr.models import DataSubjectRequest


class Command(BaseCommand):
    help = "Approve a verified request and start its jobs (the officers' desk does the same)."

    def add_arguments(self, parser):
        parser.add_argument("reference")
        parser.add_argument("--officer", required=True, help="username of the approving officer")

    def handle(self, *args, reference, officer, **options):
        request = DataSubjectRequest.objects.filter(reference=reference.upper()).first()
        user = get_user_model().objects.filter(username=officer, is_staff=True).first()
        if request is None:
            raise CommandError(f"no request {reference}")
        if user is None:
            raise CommandError(f"no staff user {officer!r}")
        try:
            execution.approve(request, actor=Actor.officer(user))
        except InvalidTransition as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{request.reference}: {request.get_status_display()}")
