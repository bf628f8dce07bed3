"""Campaign notifications (campaign.started, campaign.wave_done, campaign.paused, campaign.finished).

A campaign's state changes are made by one guarded transaction each (upgrades/services/campaigns.py and the
scheduler), so the deliveries are queued right there, in the same transaction: a change that rolls back queues
nothing, and a change happens once, so it is told once. The sender (sender.py) sends them like any delivery. A
subscription hears of a campaign when it listens to the event and covers every cluster or one of the campaign's.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.utils import timezone

from upgrades.models import Campaign, Delivery, Subscription
from upgrades.notifications.outbox import delivery_for

Event = Subscription.Event
CAMPAIGN_EVENTS = frozenset(
    {Event.CAMPAIGN_STARTED, Event.CAMPAIGN_WAVE_DONE, Event.CAMPAIGN_PAUSED, Event.CAMPAIGN_FINISHED}
)


def campaign_url(campaign_id: int) -> str:
    return f"{settings.DASHBOARD_URL}/campaigns/{campaign_id}/"


def campaign_summary(event: str, campaign: Campaign, detail: str = "") -> str:
    verbs = {
        Event.CAMPAIGN_STARTED: "started",
        Event.CAMPAIGN_WAVE_DONE: "finished a wave",
        Event.CAMPAIGN_PAUSED: "paused",
        Event.CAMPAIGN_FINISHED: f"finished: {campaign.state}",
    }
    text = f"Campaign “{campaign.name}” {verbs.get(event, event)}"  # type: ignore[call-overload]
    return (text + (f": {detail}" if detail else ""))[:300]


def campaign_note(event: str, campaign: Campaign, *, detail: str = "", **extra: object) -> dict:
    """The notification (the generic format's JSON body; the other formats render its summary and url)."""
    return {
        "event": str(event),
        "summary": campaign_summary(event, campaign, detail),
        "campaign": {"id": campaign.pk, "name": campaign.name, "state": campaign.state, "targets": campaign.targets},
        "url": campaign_url(campaign.pk),
        "at": timezone.now().isoformat(),
        "seq": None,
        **extra,
    }


def enqueue_campaign_notification(
    *, event: str, campaign: Campaign, cluster_ids: Iterable[int], detail: str = "", **extra: object
) -> int:
    """Queue one delivery per matching subscription, in the caller's transaction; returns how many."""
    if event not in CAMPAIGN_EVENTS:
        raise ValueError(f"{event!r} is not a campaign event")
    subscriptions = [
        s
        for s in Subscription.objects.filter(enabled=True, active_since__lte=timezone.now()).prefetch_related(
            "clusters"
        )
        if event in s.events
    ]
    if not subscriptions:
        return 0
    members = set(cluster_ids)
    note = campaign_note(event, campaign, detail=detail, **extra)
    deliveries = [
        delivery_for(subscription, note, kind=str(event), event=None, dag_id=None)
        for subscription in subscriptions
        if subscription.all_clusters or members & {c.pk for c in subscription.clusters.all()}
    ]
    return len(Delivery.objects.bulk_create(deliveries))
