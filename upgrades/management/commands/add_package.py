from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from upgrades.audit import Actor
from upgrades.errors import ObshellError
from upgrades.services.packages import package_upload


class Command(BaseCommand):
    help = "Add an RPM to the package store; prints `name version release arch`."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the .rpm file")

    def handle(self, *args, **opts):
        path = Path(opts["path"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            package, _created = package_upload(path=path, actor=Actor.system("add_package"))
        except ObshellError as exc:
            raise CommandError(f"{path.name}: {exc.err_code}: {exc.message}") from None
        self.stdout.write(f"{package.name} {package.version} {package.release_distribution} {package.arch}")
