import secrets

from django.core.management.base import BaseCommand, CommandError

from dsr.core.models import SystemConnection
from dsr.engine.connections import token_hash


class Command(BaseCommand):
    help = "Print a new token for a connected system (pull jobs API); the old one stops working."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        token = f"dsrsys_{secrets.token_urlsafe(32)}"
        if not SystemConnection.objects.filter(name=name).update(token_hash=token_hash(token)):
            raise CommandError(f"no connected system named {name!r}")
        self.stdout.write(token)
