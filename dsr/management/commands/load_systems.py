from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dsr.engine.systems import SystemsFileError, load


class Command(BaseCommand):
    help = "Create or update connected systems from a YAML file (secrets as ${ENV_VAR} references)."

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, path, **options):
        try:
            outcome = load(Path(path).read_text())
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        except SystemsFileError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        for key in ("created", "updated", "unchanged"):
            if outcome[key]:
                self.stdout.write(f"{key}: {', '.join(outcome[key])}")
