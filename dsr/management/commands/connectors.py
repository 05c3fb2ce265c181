from django.core.management.base import BaseCommand

from connectors import registry
from connectors.base import ConnectorError


class Command(BaseCommand):
    help = "List the connector kinds available (built-ins and dsr.connectors entry points)."

    def handle(self, *args, **options):
        for key, target in sorted(registry.available().items()):
            origin = "built-in" if key in registry.BUILTINS else "plugin"
            try:
                actions = ", ".join(sorted(registry.load(key).actions))
            except ConnectorError as exc:
                actions = f"cannot load: {exc.message}"
            self.stdout.write(f"{key:<10} {origin:<9} {target:<45} {actions}")
