"""Cluster labels: the syntax rules, the admin-only audited services, the filters (key=value, key, key!=value,
commas), labels_by_cluster in one query, the cluster page's chips and form, and `manage.py label_cluster`."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.factories import make_cluster, make_user
from upgrades.audit import Actor
from upgrades.errors import ObshellError
from upgrades.models import AuditEntry, Cluster, ClusterLabel
from upgrades.models.labels import label_key_problem, label_value_problem
from upgrades.selectors.labels import (
    LabelFilterError,
    filter_clusters_by_label,
    labels_by_cluster,
    parse_label_filter,
    parse_label_selector,
)
from upgrades.services.labels import label_remove, label_set

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


@pytest.mark.parametrize("key", ["env", "a", "region.zone", "x-y_z.1", "0abc", "k" * 63])
def test_good_keys(key):
    assert label_key_problem(key) == ""


@pytest.mark.parametrize("key", ["", "Env", "-env", "_x", ".x", "k" * 64, "a b", "a=b", "a!", "环境", "a,b"])
def test_bad_keys(key):
    assert "lowercase letters" in label_key_problem(key)


@pytest.mark.parametrize("value", ["prod", "Prod-1", "a.b/c:d@e+f", "v" * 63, '"quoted"', "x<y>&z"])
def test_good_values(value):
    assert label_value_problem(value) == ""


@pytest.mark.parametrize("value", ["", "a b", "a,b", "a=b", "a!b", "v" * 64, "tab\t", "生产", "\x00"])
def test_bad_values(value):
    assert "printable characters" in label_value_problem(value)


def test_parse_label_filter():
    assert parse_label_filter("env=prod") == ("env", "prod")
    assert parse_label_filter(" env = prod ") == ("env", "prod")
    with pytest.raises(LabelFilterError, match="key=value"):
        parse_label_filter("env")
    with pytest.raises(LabelFilterError, match="key=value"):
        parse_label_filter("env!=prod")
    with pytest.raises(LabelFilterError, match="lowercase letters"):
        parse_label_filter("Env=prod")
    with pytest.raises(LabelFilterError, match="printable"):
        parse_label_filter("env=")
    with pytest.raises(LabelFilterError, match="empty"):
        parse_label_filter("  ")


def test_parse_label_selector_terms():
    terms = parse_label_selector("env=prod,region,tier!=web")
    assert [(t.key, t.op, t.value) for t in terms] == [
        ("env", "=", "prod"),
        ("region", "exists", ""),
        ("tier", "!=", "web"),
    ]
    assert [str(t) for t in terms] == ["env=prod", "region", "tier!=web"]
    with pytest.raises(LabelFilterError, match="'env=prod,,x'|empty"):
        parse_label_selector("env=prod,,x")


@pytest.fixture
def fleet(db):
    a, b, c, d = (make_cluster(name) for name in ("a1", "b1", "c1", "d1"))
    for cluster, labels in ((a, {"env": "prod", "region": "hz"}), (b, {"env": "test"}), (c, {"region": "sh"})):
        for key, value in labels.items():
            label_set(cluster=cluster, key=key, value=value, actor=SYSTEM)
    return {"a": a, "b": b, "c": c, "d": d}


def names(queryset):
    return sorted(queryset.values_list("name", flat=True))


def test_filters(fleet):
    everyone = Cluster.objects.all()
    assert names(filter_clusters_by_label(everyone, "env=prod")) == ["a1"]
    assert names(filter_clusters_by_label(everyone, "env")) == ["a1", "b1"]
    assert names(filter_clusters_by_label(everyone, "env!=prod")) == ["b1", "c1", "d1"]
    assert names(filter_clusters_by_label(everyone, "region,env!=prod")) == ["c1"]
    assert names(filter_clusters_by_label(everyone, "env=prod,region=hz")) == ["a1"]
    assert names(filter_clusters_by_label(everyone, "env=prod,region=sh")) == []
    assert names(filter_clusters_by_label(everyone.filter(name__in=["b1", "c1"]), "env!=test")) == ["c1"]
    with pytest.raises(LabelFilterError):
        filter_clusters_by_label(everyone, "env==prod")


def test_labels_by_cluster_is_one_query(fleet):
    ids = [fleet[k].pk for k in "abcd"]
    with CaptureQueriesContext(connection) as queries:
        found = labels_by_cluster(ids)
    assert len(queries) == 1
    assert found == {
        fleet["a"].pk: {"env": "prod", "region": "hz"},
        fleet["b"].pk: {"env": "test"},
        fleet["c"].pk: {"region": "sh"},
        fleet["d"].pk: {},
    }
    assert list(found[fleet["a"].pk]) == ["env", "region"]


def test_set_replaces_and_audits_previous(cluster):
    admin = make_user("admin")
    actor = Actor.for_user(admin)
    label_set(cluster=cluster, key="env", value="test", actor=actor)
    label = label_set(cluster=cluster, key="env", value="prod", actor=actor)
    assert ClusterLabel.objects.get(cluster=cluster, key="env").value == "prod" == label.value
    entries = list(AuditEntry.objects.filter(action=AuditEntry.Action.LABEL_SET).order_by("id"))
    assert [e.detail for e in entries] == [
        {"key": "env", "value": "test", "previous": None},
        {"key": "env", "value": "prod", "previous": "test"},
    ]
    assert all(e.actor_user == admin and e.cluster == cluster for e in entries)


def test_remove_returns_value_and_audits(cluster):
    label_set(cluster=cluster, key="env", value="prod", actor=SYSTEM)
    assert label_remove(cluster=cluster, key="env", actor=SYSTEM) == "prod"
    assert not cluster.labels.exists()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LABEL_REMOVE)
    assert entry.detail == {"key": "env", "value": "prod"} and entry.outcome == "ok"
    with pytest.raises(ObshellError, match="has no label 'env'"):
        label_remove(cluster=cluster, key="env", actor=SYSTEM)
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LABEL_REMOVE, outcome="refused").count() == 1


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_label(cluster, role):
    actor = Actor.for_user(make_user(role))
    with pytest.raises(ObshellError, match="needs the admin role") as refused:
        label_set(cluster=cluster, key="env", value="prod", actor=actor)
    assert refused.value.status == 403
    label_set(cluster=cluster, key="env", value="prod", actor=SYSTEM)
    with pytest.raises(ObshellError, match="needs the admin role"):
        label_remove(cluster=cluster, key="env", actor=actor)
    assert cluster.labels.get().value == "prod"
    refusals = AuditEntry.objects.filter(outcome="refused").values_list("action", flat=True)
    assert sorted(refusals) == ["label.remove", "label.set"]


def test_invalid_label_refused_and_audited(cluster):
    with pytest.raises(ObshellError, match="printable") as refused:
        label_set(cluster=cluster, key="env", value="a b", actor=SYSTEM)
    assert refused.value.status == 400
    assert not cluster.labels.exists()
    assert AuditEntry.objects.get(action="label.set").outcome == "refused"


def test_page_shows_chips_and_admin_sets_and_removes(client, as_role, cluster):
    as_role("admin")
    response = client.post(f"/clusters/{cluster.name}/labels/", {"key": "env", "value": "prod"})
    assert response.status_code == 302 and response["Location"].endswith(f"/clusters/{cluster.name}/#labels")
    html = client.get(f"/clusters/{cluster.name}/").content.decode()
    assert 'data-label="env=prod"' in html and "alpha is labelled env=prod." in html
    assert "Remove label env=prod" in html
    client.post(f"/clusters/{cluster.name}/labels/", {"key": "Bad Key", "value": "x"})
    html = client.get(f"/clusters/{cluster.name}/").content.decode()
    assert "No label was set" in html and "lowercase letters" in html
    client.post(f"/clusters/{cluster.name}/labels/remove/", {"key": "env"})
    html = client.get(f"/clusters/{cluster.name}/").content.decode()
    assert "Label env=prod removed from alpha." in html and "data-no-labels" in html


def test_operator_sees_chips_without_the_form(client, as_role, cluster):
    label_set(cluster=cluster, key="env", value="prod", actor=SYSTEM)
    as_role("operator")
    html = client.get(f"/clusters/{cluster.name}/").content.decode()
    assert 'data-label="env=prod"' in html
    assert "data-label-form" not in html and "Remove label" not in html
    assert client.post(f"/clusters/{cluster.name}/labels/", {"key": "a", "value": "b"}).status_code == 403
    assert client.post(f"/clusters/{cluster.name}/labels/remove/", {"key": "env"}).status_code == 403
    assert cluster.labels.get().value == "prod"


def test_label_cluster_command(cluster):
    out = StringIO()
    call_command("label_cluster", "alpha", "env=prod", "region=hz", stdout=out)
    assert out.getvalue().strip() == "alpha: env=prod, region=hz"
    out = StringIO()
    call_command("label_cluster", "alpha", "env=staging", "--remove", "region", stdout=out)
    assert out.getvalue().strip() == "alpha: env=staging"
    assert AuditEntry.objects.filter(actor_label__startswith="command ").count() == 4
    with pytest.raises(CommandError, match="key=value"):
        call_command("label_cluster", "alpha", "env")
    with pytest.raises(CommandError, match="no cluster named"):
        call_command("label_cluster", "nope", "env=prod")
    with pytest.raises(CommandError, match="has no label 'tier'"):
        call_command("label_cluster", "alpha", "--remove", "tier")
    out = StringIO()
    call_command("label_cluster", "alpha", stdout=out)
    assert out.getvalue().strip() == "alpha: env=staging"
