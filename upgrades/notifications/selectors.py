"""Reads for the notifications pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Max, Q

from upgrades.models import Delivery, Subscription


@dataclass
class SubscriptionRow:
    subscription: Subscription
    delivered: int
    waiting: int
    failed: int
    last_at: object


def subscription_rows() -> list[SubscriptionRow]:
    rows = (
        Subscription.objects.prefetch_related("clusters")
        .select_related("created_by")
        .annotate(
            delivered=Count("deliveries", filter=Q(deliveries__state=Delivery.State.SUCCEEDED)),
            waiting=Count(
                "deliveries", filter=Q(deliveries__state__in=[Delivery.State.PENDING, Delivery.State.SENDING])
            ),
            failed=Count("deliveries", filter=Q(deliveries__state=Delivery.State.FAILED)),
            last_at=Max("deliveries__created_at"),
        )
    )
    return [SubscriptionRow(s, s.delivered, s.waiting, s.failed, s.last_at) for s in rows]  # type: ignore[attr-defined]


def deliveries_of(subscription: Subscription):
    return subscription.deliveries.select_related("dag").order_by("-id")
