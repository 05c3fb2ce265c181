"""A personal API token for the officer API (``Authorization: Token <key>``), stored hashed.

    manage.py issue_api_token pat                                   # a desk user's own token
    manage.py issue_api_token crm-sync --service-account --role officer

A service account is a user for scripts: no password and no authenticator, so it can
never log in to the desk or the admin; it reaches the officer API with its token only,
and does what its role allows (an auditor's token reads, an officer's acts).
"""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dsr.core.models import ApiToken
from dsr.core.roles import Role, grant, is_service_account, role_of
from dsr.desk.auth import token_hash


class Command(BaseCommand):
    help = "Print a new personal API token for a desk user or a service account; stored hashed."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--revoke-others", action="store_true", help="revoke the user's earlier tokens")
        parser.add_argument("--service-account", action="store_true",
                            help="create (or use) an account without password or TOTP, for the API only")
        parser.add_argument("--role", choices=[r.value for r in Role],
                            help="the service account's role (required when creating one)")

    def handle(self, *args, username, revoke_others, service_account, role, **options):
        User = get_user_model()
        with transaction.atomic():
            user = User.objects.filter(username=username).first()
            if service_account:
                user = self._service_account(User, user, username, role)
            elif role:
                raise CommandError("--role is for a service account; a person's role is set with desk_user")
            if user is None or not user.is_active:
                raise CommandError(f"no active user {username!r}")
            if role_of(user) is None:
                raise CommandError(f"{username} has no desk role (officer, administrator or auditor)")
            if revoke_others:
                ApiToken.objects.filter(user=user).delete()
            key = f"dsrtok_{secrets.token_urlsafe(32)}"
            ApiToken.objects.create(user=user, key_hash=token_hash(key))
        if service_account:
            self.stderr.write(f"{username}: service account, {role_of(user)}; it uses the API only.")
        self.stdout.write(key)

    def _service_account(self, User, user, username, role):
        if user is not None and not is_service_account(user):
            raise CommandError(f"{username} is a person's account (it has a password or an authenticator); "
                               "choose another name for the service account")
        if user is None:
            if not role:
                raise CommandError("a new service account needs --role")
            user = User.objects.create_user(username, email="", password=None)  # no usable password
        if role:
            grant(user, Role(role), staff=False)
        return user
