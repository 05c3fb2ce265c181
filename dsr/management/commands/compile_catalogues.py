"""Compile the translation catalogues (locale/*/LC_MESSAGES/*.po → .mo) with polib.

Django's own compilemessages needs GNU gettext's msgfmt, which a fresh machine with only
Python lacks; polib is pure Python. Fuzzy and untranslated entries are left out of the
.mo (they show in English), as msgfmt does. A .mo newer than its .po is left alone.
"""

from __future__ import annotations

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


def compile_all(*, force: bool = False) -> list[Path]:
    """Write each stale .mo; returns the files written."""
    written = []
    for root in settings.LOCALE_PATHS:
        for po_path in sorted(Path(root).glob("*/LC_MESSAGES/*.po")):
            mo_path = po_path.with_suffix(".mo")
            if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                continue
            polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
            written.append(mo_path)
    return written


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/*.po into .mo files (pure Python; no GNU gettext needed)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="rewrite every .mo, even up-to-date ones")

    def handle(self, *args, force: bool, **options):
        written = compile_all(force=force)
        for path in written:
            self.stdout.write(f"compiled {path}")
        if not written:
            self.stdout.write("catalogues up to date")
