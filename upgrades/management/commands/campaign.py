"""manage.py campaign create|start|pause|resume|abort: fleet campaigns for scripts, through the same services as
the pages (audited as "command <os user>"). `create` takes the new-campaign form's options and prints the id."""

from django.core.management.base import BaseCommand, CommandError

from upgrades.audit import Actor
from upgrades.management.commands.upgrade import command_actor
from upgrades.models import Campaign
from upgrades.services.campaign_plan import CampaignRefused
from upgrades.services.campaigns import (
    campaign_abort,
    campaign_create,
    campaign_pause,
    campaign_resume,
    campaign_start,
)


def _names(text):
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _targets(values):
    """--target EDITION=VERSION-RELEASE (repeatable), e.g. community=4.3.0.1-101000062023110109.el7."""
    targets = {}
    for value in values or []:
        edition, sep, build = value.partition("=")
        version, dash, release = build.partition("-")
        if not sep or not dash or not version or not release:
            raise CommandError(f"--target {value!r}: write EDITION=VERSION-RELEASE")
        targets[edition.strip()] = {"version": version.strip(), "release": release.strip()}
    return targets


class Command(BaseCommand):
    help = "Fleet campaigns: create (prints the id), start, pause, resume [--skip-failed], abort."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        create = sub.add_parser("create", help="a campaign (a draft, or awaiting approval for production)")
        create.add_argument("--name", required=True)
        create.add_argument(
            "--target", action="append", required=True, help="EDITION=VERSION-RELEASE, once per edition"
        )
        create.add_argument("--allow-downtime", action="store_true", help="stop service where rolling is impossible")
        create.add_argument("--clusters", help="picked clusters, comma-separated")
        create.add_argument("--edition", help="filter: edition")
        create.add_argument("--build", help="filter: current build, e.g. 4.2.1.0-100000102023092807")
        create.add_argument("--name-pattern", help="filter: name pattern, e.g. 'prod-*'")
        create.add_argument("--label", help="filter: label, e.g. env=prod")
        create.add_argument("--canary", help="canary clusters, comma-separated (default: the first)")
        create.add_argument("--canary-size", type=int, default=1)
        create.add_argument("--wave-size", type=int, default=4)
        create.add_argument("--max-parallel", type=int, default=2)
        create.add_argument("--soak-minutes", type=int, default=0)
        create.add_argument("--failure-threshold", type=int, default=1, help="pause after this many failures")
        create.add_argument("--reason", default="")
        for verb in ("start", "pause", "resume", "abort"):
            action = sub.add_parser(verb)
            action.add_argument("campaign_id", type=int)
            action.add_argument("--reason", default="")
            if verb == "resume":
                action.add_argument("--skip-failed", action="store_true", help="skip the clusters that failed")

    def handle(self, *args, **opts):
        actor = Actor.system(command_actor())
        try:
            if opts["verb"] == "create":
                campaign = campaign_create(
                    name=opts["name"],
                    targets=_targets(opts["target"]),
                    cluster_filter={
                        "clusters": _names(opts["clusters"]),
                        "edition": opts["edition"],
                        "build": opts["build"],
                        "name_pattern": opts["name_pattern"],
                        "label": opts["label"],
                    },
                    allow_downtime=opts["allow_downtime"],
                    canary=_names(opts["canary"]),
                    canary_size=opts["canary_size"],
                    wave_size=opts["wave_size"],
                    max_parallel=opts["max_parallel"],
                    soak_minutes=opts["soak_minutes"],
                    failure_threshold=opts["failure_threshold"],
                    reason=opts["reason"],
                    actor=actor,
                )
                self.stdout.write(str(campaign.pk))
                return
            campaign = Campaign.objects.filter(pk=opts["campaign_id"]).first()
            if campaign is None:
                raise CommandError(f"no campaign {opts['campaign_id']}")
            verb, reason = opts["verb"], opts["reason"]
            if verb == "start":
                campaign = campaign_start(campaign=campaign, actor=actor, reason=reason)
            elif verb == "pause":
                campaign = campaign_pause(campaign=campaign, actor=actor, reason=reason)
            elif verb == "resume":
                campaign = campaign_resume(
                    campaign=campaign, actor=actor, reason=reason, skip_failed=opts["skip_failed"]
                )
            else:
                campaign = campaign_abort(campaign=campaign, actor=actor, reason=reason)
        except CampaignRefused as refusal:
            raise CommandError(str(refusal)) from None
        self.stdout.write(f"campaign {campaign.pk} {campaign.name}: {campaign.state}")
