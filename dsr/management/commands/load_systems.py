from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dsr.engine.systems import SystemsFileError, load, missing_from


class Command(BaseCommand):
    help = (
        "Create or update connected systems from a YAML file (secrets as ${ENV_VAR} references). "
        "With --prune, systems the file does not name are removed (disabled if they ever had a job)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--prune", action="store_true",
                            help="remove the systems the file does not name (asks first, unless --yes)")
        parser.add_argument("--yes", action="store_true", help="prune without asking")

    def handle(self, *args, path, prune, yes, **options):
        try:
            text = Path(path).read_text()
            if prune and not yes and (gone := missing_from(text)):
                answer = input(f"Remove these systems, which {path} does not name: {', '.join(gone)}? [y/N] ")
                if answer.strip().lower() not in ("y", "yes"):
                    raise CommandError("nothing changed: pruning was not confirmed")
            outcome = load(text, prune=prune)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        except SystemsFileError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        labels = {"disabled": "disabled (it has jobs on record, so it is kept)"}
        for key in ("created", "updated", "unchanged", "removed", "disabled"):
            if outcome[key]:
                self.stdout.write(f"{labels.get(key, key)}: {', '.join(outcome[key])}")
