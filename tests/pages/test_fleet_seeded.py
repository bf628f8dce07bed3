"""The fleet page on a fleet from seed_fleet: every fleet state is there to filter, and the stalled run says so."""

import pytest

from upgrades.demo.scale import seed_fleet

pytestmark = pytest.mark.django_db


def test_the_fleet_page_shows_every_state_of_a_seeded_fleet(client, as_role):
    seed_fleet(clusters=120, servers=9, runs=240)
    as_role("viewer")
    html = client.get("/", {"sort": "state"}).content.decode()
    for state in ("running", "held", "failed", "unreachable", "upgradable", "up_to_date"):
        assert client.get("/", {"state": state}).content.decode().count("<tr data-cluster=") > 0, state
    assert "stalled" in client.get("/", {"state": "running"}).content.decode()
    assert 'data-fleet-state="running"' in html
