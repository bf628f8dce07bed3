"""Extract the pages' text into locale/zh_Hans (django.po, djangojs.po), list what has no Chinese yet, and compile
the .mo files once nothing is missing. Pure Python (polib, requirements-dev.txt): no GNU gettext needed."""

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from upgrades.management import catalogs

DOMAINS = ("django", "djangojs")


class Command(BaseCommand):
    help = "Add new page, email and script text to locale/zh_Hans, list the untranslated, compile when complete."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="change nothing; exit non-zero if text is missing")

    def handle(self, *args, check=False, **options):
        try:
            import polib  # noqa: F401
        except ImportError:
            raise CommandError("polib is missing: pip install -r requirements-dev.txt") from None
        untranslated = []
        for domain in DOMAINS:
            catalog = catalogs.merge(domain)
            if not check:
                path = catalogs.po_path(domain)
                path.parent.mkdir(parents=True, exist_ok=True)
                catalog.save(str(path))
            gaps = catalogs.missing(domain, catalog)
            untranslated += [(catalogs.po_path(domain), m) for m in gaps]
        unwrapped = catalogs.unwrapped_template_text() + catalogs.unwrapped_python_text()
        for line in unwrapped:
            self.stdout.write(f"not wrapped for translation: {line}")
        for _path, message in untranslated:
            where = message.places[0] if message.places else "?"
            context = f" (context {message.msgctxt!r})" if message.msgctxt else ""
            self.stdout.write(f"no Chinese yet: {message.msgid!r}{context}  [{where}]")
        if untranslated or unwrapped:
            raise CommandError(
                f"{len(untranslated)} msgid(s) without a zh_Hans msgstr, {len(unwrapped)} text(s) outside translate tags:"
                " wrap the text, fill msgstr in locale/zh_Hans/LC_MESSAGES/*.po, run `manage.py update_catalogs` again"
            )
        if check:
            call_command("compile_catalogs", check=True)
        else:
            call_command("compile_catalogs")
        self.stdout.write("catalogs complete")
