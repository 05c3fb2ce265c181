import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dsr.core.models import ApiToken
from dsr.core.roles import role_of
from dsr.desk.auth import token_hash


class Command(BaseCommand):
    help = "Print a new personal API token for a desk user (Authorization: Token <key>); stored hashed."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--revoke-others", action="store_true", help="revoke the user's earlier tokens")

    def handle(self, *args, username, revoke_others, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r}")
        if role_of(user) is None:
            raise CommandError(f"{username} has no desk role (officer, administrator or auditor)")
        if revoke_others:
            ApiToken.objects.filter(user=user).delete()
        key = f"dsrtok_{secrets.token_urlsafe(32)}"
        ApiToken.objects.create(user=user, key_hash=token_hash(key))
        self.stdout.write(key)
