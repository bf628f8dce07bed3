from django.core.management.base import BaseCommand


class VersionOptionCommand(BaseCommand):
    """Base for commands whose interface has a `--version` option (Django reserves it for itself)."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)
