from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dsr.core.models import TOTPDevice
from dsr.core.roles import Role, grant


class Command(BaseCommand):
    help = (
        "Create or update a desk user with a role and a TOTP device. When it creates the device it "
        "prints the otpauth:// URI to add to an authenticator app, once: the secret is stored "
        "encrypted and never shown again (--new-device replaces the device and prints the new URI)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=[r.value for r in Role], required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="set this password (else keep the current one)")
        parser.add_argument("--new-device", action="store_true",
                            help="replace the user's authenticator (the old one stops working)")

    def handle(self, *args, username, role, email, password, new_device, **options):
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username, defaults={"email": email})
        if created and not password:
            raise CommandError("a new user needs --password")
        if password:
            user.set_password(password)
        if email:
            user.email = email
        user.save()
        grant(user, Role(role))
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists() and not new_device:
            self.stdout.write(f"{username}: {role}. Their authenticator is unchanged (its secret is not shown "
                              "again); --new-device replaces it.")
            return
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
        self.stdout.write(f"{username}: {role}. Add this to an authenticator app (it is shown only now):\n"
                          f"{device.config_url}")
