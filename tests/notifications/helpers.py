"""Notification test helpers: subscriptions made through the service, runs that end each way, and an
independent check of the generic webhook's signature."""

import hashlib
import hmac

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.services.notifications import subscription_create

SECRET = "s3cret-for-tests"
ADMIN = Actor.system("test")


def subscribe(url, *, format="generic", secret=SECRET, **kw):
    return subscription_create(
        actor=ADMIN,
        name=kw.pop("name", f"{format} hook"),
        format=format,
        target=url,
        secret=secret if format != "slack" else "",
        **kw,
    )


def run_upgrade(cluster, *, fail_at=None):
    """An upgrade of `cluster` run to its end here; with `fail_at`, a fault makes that stage fail."""
    from upgrades.backends.faults import fault_inject
    from upgrades.engine.runner import run_dag_to_end
    from upgrades.models import Package

    if not Package.objects.filter(version=TARGET.version).exists():
        stock_packages(TARGET)
    if fail_at:
        fault_inject(cluster=cluster, node_name=fail_at, server=None, kind="fail", times=1)
    return run_dag_to_end(start_upgrade(cluster, TARGET).pk)


def signature_ok(secret, body, header):
    """The receiver's side, written from the README, not from the product's code."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)
