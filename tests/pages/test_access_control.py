"""Every page needs a signed-in user with a role."""

import pytest
from django.contrib.auth.models import User

from tests.support.factories import make_cluster, make_user

pytestmark = pytest.mark.django_db

PAGES = ["/", "/runs/", "/packages/", "/audit/"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("url", PAGES)
def test_user_without_a_role_is_refused(client, url):
    User.objects.create_user(username="nobody", password="pw-123456789")
    client.login(username="nobody", password="pw-123456789")
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", PAGES)
def test_viewer_sees_every_page(client, url):
    client.force_login(make_user("viewer"))
    assert client.get(url).status_code == 200


def test_cluster_page_needs_login_and_404s_for_unknown(client):
    cluster = make_cluster("alpha")
    assert client.get(f"/clusters/{cluster.name}/").status_code == 302
    client.force_login(make_user("viewer"))
    assert client.get("/clusters/alpha/").status_code == 200
    assert client.get("/clusters/nope/").status_code == 404


def test_top_bar_shows_user_role_and_nav(client):
    user = make_user("operator", username="dora")
    client.force_login(user)
    html = client.get("/").content.decode()
    assert "dora" in html and ">operator<" in html
    for label in ("Clusters", "Runs", "Packages", "Audit", "Log out"):
        assert label in html


def test_login_and_logout(client):
    make_user("viewer", username="vic", password="pw-123456789")
    response = client.post("/login/", {"username": "vic", "password": "pw-123456789"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_shows_error(client):
    make_user("viewer", username="vic", password="pw-123456789")
    response = client.post("/login/", {"username": "vic", "password": "wrong"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()
