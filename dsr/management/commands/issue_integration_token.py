import secrets

from django.core.management.base import BaseCommand

from dsr.core.models import IntegrationToken
from dsr.engine.connections import token_hash


class Command(BaseCommand):
    help = (
        "Print a new token for a trusted integration (e.g. your own site, where the person is "
        "signed in): its requests are verified at once and, unless --no-auto-approve, approved."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--no-auto-approve", action="store_true")

    def handle(self, *args, name, no_auto_approve, **options):
        token = f"dsrint_{secrets.token_urlsafe(32)}"
        IntegrationToken.objects.update_or_create(
            name=name,
            defaults={"token_hash": token_hash(token), "auto_approve": not no_auto_approve, "enabled": True},
        )
        self.stdout.write(token)
