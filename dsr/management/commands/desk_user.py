from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from dsr.core.roles import Role, grant


class Command(BaseCommand):
    help = (
        "Create or update a desk user with a role and a TOTP device; prints the otpauth:// URI "
        "to add to an authenticator app (the device is replaced with --new-device)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=[r.value for r in Role], required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="set this password (else keep the current one)")
        parser.add_argument("--new-device", action="store_true")

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
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None or new_device:
            TOTPDevice.objects.filter(user=user).delete()
            device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
        self.stdout.write(f"{username}: {role}. Add this to an authenticator app:\n{device.config_url}")
