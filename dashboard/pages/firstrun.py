"""The fleet page's "Try it" card on a fresh demo: upgrade demo-hangzhou (preview, upgrade, watch), then a fault
drill on demo-shanghai. Each step is ticked from what the database shows; a user's dismissal is kept."""

from upgrades.models import AuditEntry, Cluster, Dag, Dismissal
from upgrades.roles import has_role

TRY_IT = "try-it"
HINTS = {TRY_IT}
UPGRADE_CLUSTER = "demo-hangzhou"
DRILL_CLUSTER = "demo-shanghai"
DRILL_STAGE = "Stop zone2"


def dismissed(user, key):
    return Dismissal.objects.filter(user=user, key=key).exists()


def hint_dismiss(*, user, key):
    Dismissal.objects.get_or_create(user=user, key=key)


def try_it(user):
    """The card's steps for this user, or None: no demo fleet, or the user closed the card."""
    if not user.is_authenticated or dismissed(user, TRY_IT):
        return None
    clusters = {c.name: c for c in Cluster.objects.filter(name__in=[UPGRADE_CLUSTER, DRILL_CLUSTER])}
    upgrade_cluster = clusters.get(UPGRADE_CLUSTER)
    if upgrade_cluster is None:
        return None
    drill_cluster = clusters.get(DRILL_CLUSTER, upgrade_cluster)
    run = Dag.objects.filter(cluster=upgrade_cluster, kind=Dag.Kind.UPGRADE).order_by("-id").first()
    armed = AuditEntry.objects.filter(
        action="fault.inject", outcome=AuditEntry.Outcome.OK, cluster=drill_cluster
    ).exists()
    operated = AuditEntry.objects.filter(
        action__in=["dag.operate", "node.pass"], outcome=AuditEntry.Outcome.OK, cluster=drill_cluster
    ).exists()
    can_upgrade = has_role(user, "operator")
    can_drill = has_role(user, "admin")
    steps = [
        {
            "title": f"Preview the upgrade of {upgrade_cluster.name}",
            "text": "Open its page, keep the newest package and Rolling, click Preview plan: the route, the "
            "pre-checks and every stage, and nothing starts yet.",
            "href": f"/clusters/{upgrade_cluster.name}/#upgrade-h",
            "link": f"Open {upgrade_cluster.name}",
            "done": run is not None,
            "needs": "" if can_upgrade else "operator",
        },
        {
            "title": "Upgrade it and watch",
            "text": "Say why, click Upgrade: the run page follows every stage and its logs live (about a minute).",
            "href": f"/runs/{run.pk}/" if run else f"/clusters/{upgrade_cluster.name}/#upgrade-h",
            "link": f"Watch run {run.pk}" if run else "Start it",
            "done": run is not None and run.is_finished,
            "run": run,
            "needs": "" if can_upgrade else "operator",
        },
        {
            "title": f"Then a fault drill on {drill_cluster.name}",
            "text": f"Under Fault drills, arm Fail ×1 at “{DRILL_STAGE}”, start its upgrade, see it fail there, "
            "then Retry with a reason (or roll back, or pass).",
            "href": f"/clusters/{drill_cluster.name}/#faults",
            "link": f"Open {drill_cluster.name}'s fault drills",
            "done": armed and operated,
            "needs": "" if can_drill else "admin",
        },
    ]
    return {"steps": steps, "all_done": all(step["done"] for step in steps), "key": TRY_IT}
