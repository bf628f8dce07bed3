"""A cluster's API tokens on its page: admins create (secret shown once), list and revoke."""

import re

import pytest

from upgrades.models import ApiToken, AuditEntry
from upgrades.security.tokens import token_lookup

pytestmark = pytest.mark.django_db


def create(client, cluster, label="ci-pipeline"):
    return client.post(f"/clusters/{cluster.name}/tokens/", {"label": label})


def test_admin_creates_a_token_shown_once(client, as_role, cluster):
    as_role("admin")
    response = create(client, cluster)
    html = response.content.decode()
    secret = re.search(r"data-token-secret>([^<]+)<", html).group(1)
    assert "no-store" in response["Cache-Control"]
    token = token_lookup(secret)
    assert token is not None and token.cluster == cluster and token.label == "ci-pipeline"
    later = client.get(f"/clusters/{cluster.name}/").content.decode()
    assert secret not in later
    assert "ci-pipeline" in later and token.prefix in later and "never" in later
    entry = AuditEntry.objects.get(action="token.create")
    assert secret not in str(entry.detail) and entry.actor_label.startswith("user ")


def test_admin_revokes_a_token(client, as_role, cluster):
    as_role("admin")
    secret = re.search(r"data-token-secret>([^<]+)<", create(client, cluster).content.decode()).group(1)
    token = ApiToken.objects.get()
    response = client.post(f"/clusters/{cluster.name}/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    assert token_lookup(secret) is None
    page = client.get(f"/clusters/{cluster.name}/").content.decode()
    assert "revoked" in page


def test_a_token_needs_a_label(client, as_role, cluster):
    as_role("admin")
    response = create(client, cluster, label="")
    assert response.status_code == 400
    assert "needs a label" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_operators_neither_see_nor_manage_tokens(client, as_role, cluster):
    as_role("operator")
    assert "API tokens" not in client.get(f"/clusters/{cluster.name}/").content.decode()
    assert create(client, cluster).status_code == 403
    assert not ApiToken.objects.exists()


def test_revoking_another_clusters_token_is_404(client, as_role, cluster):
    from tests.support.factories import make_cluster

    other = make_cluster("other")
    as_role("admin")
    create(client, other)
    token = ApiToken.objects.get()
    assert client.post(f"/clusters/{cluster.name}/tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get().revoked_at is None
