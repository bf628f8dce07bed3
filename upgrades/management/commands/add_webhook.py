import os

from django.core.management.base import BaseCommand, CommandError

from upgrades.audit import Actor
from upgrades.errors import ObshellError
from upgrades.management.commands.upgrade import command_actor
from upgrades.models import Cluster, Subscription
from upgrades.notifications.net import redacted
from upgrades.services.notifications import ALL_EVENTS, subscription_create

WEBHOOK_FORMATS = [f for f in Subscription.Format.values if f != Subscription.Format.EMAIL]


class Command(BaseCommand):
    help = (
        "Subscribe a webhook to upgrade events (all clusters unless --clusters). The signing secret is read from "
        "the environment variable named by --secret-env, never from the command line."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # No abbreviations: `--secret VALUE` must not pass for `--secret-env` (a secret never goes in argv).
        return super().create_parser(prog_name, subcommand, allow_abbrev=False, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("url", help="the webhook URL (http:// or https://)")
        parser.add_argument(
            "--secret-env",
            metavar="VAR",
            help="the environment variable holding the signing secret (required for generic; DingTalk and Feishu "
            "sign with it when given; Slack has no signing)",
        )
        parser.add_argument("--clusters", metavar="A,B", help="only these clusters (default: every cluster)")
        parser.add_argument("--format", choices=WEBHOOK_FORMATS, default="generic")
        parser.add_argument("--name", help="a label shown on the notifications page (default: the URL's host)")
        parser.add_argument(
            "--events", metavar="E,F", help=f"only these events (default: all of {', '.join(ALL_EVENTS)})"
        )

    def handle(self, *args, **opts):
        secret = ""
        if opts["secret_env"]:
            secret = os.environ.get(opts["secret_env"], "")
            if not secret:
                raise CommandError(f"the environment variable {opts['secret_env']} is unset or empty")
        clusters = None
        if opts["clusters"]:
            names = [n.strip() for n in opts["clusters"].split(",") if n.strip()]
            found = {c.name: c for c in Cluster.objects.filter(name__in=names)}
            missing = [n for n in names if n not in found]
            if missing:
                raise CommandError(f"no cluster named {', '.join(repr(n) for n in missing)}")
            clusters = [found[n] for n in names]
        events = [e.strip() for e in opts["events"].split(",") if e.strip()] if opts["events"] else None
        name = opts["name"] or redacted(opts["url"])
        try:
            subscription = subscription_create(
                actor=Actor.system(command_actor()),
                name=name,
                format=opts["format"],
                target=opts["url"],
                secret=secret,
                clusters=clusters,
                events=events,
            )
        except ObshellError as exc:
            raise CommandError(exc.message) from None
        scope = "every cluster" if clusters is None else ", ".join(c.name for c in clusters)
        signed = "signed" if subscription.has_secret else "unsigned"
        self.stdout.write(
            f"Subscription {subscription.pk}: {subscription.format} webhook {subscription.target_display} ({signed}), "
            f"{scope}, events {', '.join(subscription.events)}"
        )
