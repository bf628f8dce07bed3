"""Compile locale/*/LC_MESSAGES/*.po into .mo with polib (a development dependency): Django's compilemessages
needs GNU gettext's msgfmt, which a fresh machine may not have. The .mo files are committed, so serving never
compiles anything."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def catalogs():
    for root in settings.LOCALE_PATHS:
        yield from sorted(Path(root).glob("*/LC_MESSAGES/*.po"))


def compiled(po_path):
    """The .mo bytes of one catalog (entries sorted, so the output is the same on every machine)."""
    import polib

    catalog = polib.pofile(str(po_path))
    problems = [entry.msgid for entry in catalog if entry.msgid and not entry.translated()]
    if problems:
        raise CommandError(f"{po_path}: untranslated: {problems[:5]}")
    return catalog.to_binary()


class Command(BaseCommand):
    help = "Compile the .po catalogs under LOCALE_PATHS into .mo files (pure Python; needs requirements-dev.txt)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="exit non-zero if a committed .mo is out of date")

    def handle(self, *args, check=False, **options):
        try:
            import polib  # noqa: F401
        except ImportError:
            raise CommandError("polib is missing: pip install -r requirements-dev.txt") from None
        stale = []
        for po_path in catalogs():
            mo_path = po_path.with_suffix(".mo")
            data = compiled(po_path)
            if mo_path.exists() and mo_path.read_bytes() == data:
                continue
            if check:
                stale.append(str(mo_path))
                continue
            mo_path.write_bytes(data)
            self.stdout.write(f"compiled {mo_path}")
        if stale:
            raise CommandError(f"out of date (run manage.py compile_catalogs): {', '.join(stale)}")
