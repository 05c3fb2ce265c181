from django.core.management.base import BaseCommand

from connectors import registry
from connectors.base import ConnectorError
from connectors.saas import catalogue


class Command(BaseCommand):
    help = (
        "List the connector kinds available (built-ins and dsr.connectors entry points); "
        "with --templates, the SaaS templates instead, one per line, name first."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--templates", action="store_true",
            help="list the SaaS templates (built-in, DSR_TEMPLATE_DIRS, dsr.templates plugins)",
        )

    def handle(self, *args, **options):
        if options["templates"]:
            self._templates()
            return
        for key, target in sorted(registry.available().items()):
            origin = "built-in" if key in registry.BUILTINS else "plugin"
            try:
                actions = ", ".join(sorted(registry.load(key).actions))
            except ConnectorError as exc:
                actions = f"cannot load: {exc.message}"
            self.stdout.write(f"{key:<10} {origin:<9} {target:<45} {actions}")

    def _templates(self):
        for name, info in catalogue.available(catalogue.env_dirs()).items():
            if info.error:
                self.stdout.write(f"{name:<12} {info.origin:<10} cannot load: {info.error}")
                continue
            kept = "; keeps " + ", ".join(k.category for k in info.kept) if info.kept else ""
            self.stdout.write(f"{name:<12} {info.origin:<10} {info.title} ({', '.join(info.actions)}){kept}")
