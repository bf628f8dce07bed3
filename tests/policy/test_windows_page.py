"""The cluster page's maintenance windows card: what applies (own and label windows), open or closed now with the
next opening, and an admin adding (to the cluster or one of its labels) and removing windows."""

import pytest

from upgrades.audit import Actor
from upgrades.models import MaintenanceWindow
from upgrades.services.labels import label_set
from upgrades.services.windows import window_add

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


def page(client, cluster):
    return client.get(f"/clusters/{cluster.name}/").content.decode()


def test_no_window(client, as_role, cluster):
    as_role("viewer")
    html = page(client, cluster)
    assert 'data-window-now="open"' in html and "No window" in html and "at any time" in html
    assert "data-window-form" not in html and "set by admins" in html


def test_open_and_closed(client, as_role, cluster):
    as_role("viewer")
    window_add(cluster=cluster, window="daily 00:00-23:59 UTC", name="almost always", actor=SYSTEM)
    html = page(client, cluster)
    # Closed one minute a day: open at any other time.
    assert ('data-window-now="open"' in html and "Open now" in html and "until" in html) or "next opens" in html
    assert "daily 00:00-23:59 UTC" in html and "almost always" in html and "this cluster's own" in html


def test_closed_names_the_next_opening(client, as_role, cluster):
    # A window that is never open now: on the one weekday other than today's and tomorrow's.
    from django.utils import timezone

    day = (timezone.now().weekday() + 3) % 7
    name = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day]
    window_add(cluster=cluster, window=f"{name} 01:00-02:00 Asia/Shanghai", actor=SYSTEM)
    as_role("viewer")
    html = page(client, cluster)
    assert 'data-window-now="closed"' in html and "Closed" in html
    assert f"next opens {name} " in html and "01:00 Asia/Shanghai" in html


def test_admin_adds_to_cluster_and_label_and_removes(client, as_role, cluster):
    label_set(cluster=cluster, key="env", value="prod", actor=SYSTEM)
    as_role("admin")
    html = page(client, cluster)
    assert 'value="label:env=prod"' in html
    response = client.post(
        f"/clusters/{cluster.name}/windows/",
        {"window": "Tue and Thu 01:00-05:00 Asia/Shanghai", "applies_to": "cluster"},
    )
    assert response.status_code == 302 and response["Location"].endswith("#windows")
    client.post(
        f"/clusters/{cluster.name}/windows/",
        {"window": "daily 22:00-02:00 UTC", "applies_to": "label:env=prod", "name": "prod nights"},
    )
    own, by_label = MaintenanceWindow.objects.order_by("id")
    assert own.cluster == cluster and (by_label.cluster, by_label.label) == (None, "env=prod")
    html = page(client, cluster)
    assert "Tue and Thu 01:00-05:00 Asia/Shanghai" in html and "prod nights" in html
    assert "from label env=prod" in html and "Remove it for all of them?" in html
    assert "added to every cluster labelled env=prod" in html
    client.post(f"/clusters/{cluster.name}/windows/", {"window": "Someday 01:00-02:00 UTC"})
    assert "No window was added" in page(client, cluster)
    client.post(f"/clusters/{cluster.name}/windows/{by_label.pk}/remove/")
    assert "Maintenance window daily 22:00-02:00 UTC removed." in page(client, cluster)
    assert list(MaintenanceWindow.objects.all()) == [own]


def test_a_window_of_another_cluster_is_not_removed_here(client, as_role, cluster):
    from tests.support.factories import make_cluster

    other = make_cluster("beta")
    theirs = window_add(cluster=other, window="daily 01:00-02:00 UTC", actor=SYSTEM)
    as_role("admin")
    assert client.post(f"/clusters/{cluster.name}/windows/{theirs.pk}/remove/").status_code == 404
    assert MaintenanceWindow.objects.filter(pk=theirs.pk).exists()


def test_operators_cannot_change_windows(client, as_role, cluster):
    as_role("operator")
    assert client.post(f"/clusters/{cluster.name}/windows/", {"window": "daily 01:00-02:00 UTC"}).status_code == 403
    assert not MaintenanceWindow.objects.exists()
