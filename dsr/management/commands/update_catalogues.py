"""Extract the texts to translate into every shipped language's catalogue (Django's makemessages).

Runs GNU gettext (xgettext, msgmerge), as makemessages does: ``apt-get install gettext``.
New texts arrive untranslated, changed ones marked fuzzy; translate them in
``locale/<lang>/LC_MESSAGES/django.po``, then ``make messages`` compiles them. The test
``tests/dsr/test_catalogues.py`` runs the same extraction to check the catalogues are current.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils.translation import to_locale

# Not the product: tests, benchmarks, docs and what is generated at run time.
IGNORED = ["tests", "bench", "docs", "var", "staticfiles", "connectors", "build", "dist", "*.egg-info"]


def locales() -> list[str]:
    """The catalogues' directory names: every shipped language but the source one (pt-br → pt_BR)."""
    return [to_locale(code) for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def extract(*, verbosity: int = 0) -> None:
    """makemessages for every shipped language, with the options the catalogues are kept with."""
    call_command(
        "makemessages",
        locale=locales(),
        domain="django",
        ignore_patterns=IGNORED,
        add_location="file",
        no_obsolete=True,
        verbosity=verbosity,
    )


class Command(BaseCommand):
    help = "Extract the texts to translate into locale/<lang>/LC_MESSAGES/django.po (needs GNU gettext)."

    def handle(self, *args, **options):
        extract(verbosity=options["verbosity"])
        self.stdout.write(f"catalogues updated: {', '.join(locales())}")
