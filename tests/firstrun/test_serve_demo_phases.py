"""`manage.py serve_demo` in-process (what `make run` runs after the install): one line per phase, the URL last,
and the sign-in link it prints working once. Serving itself is replaced by the announcement daphne makes when it
listens; tests/firstrun/test_make_run.py covers the real server from a fresh clone."""

import re
import socket
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from upgrades.management.commands import serve_demo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def announce_instead_of_serving(monkeypatch):
    served = []

    def serve(self, host, port, announce):
        served.append((host, port))
        announce()

    monkeypatch.setattr(serve_demo.Command, "serve", serve)
    return served


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(port):
    out = StringIO()
    call_command("serve_demo", host="127.0.0.1", port=port, stdout=out)
    return out.getvalue().splitlines()


def test_phases_in_order_with_the_sign_in_link_last(client, login_links_on, announce_instead_of_serving):
    port = free_port()
    lines = run(port)
    assert [line.split()[0] for line in lines] == ["migrate", "seed", "serve", "open"]
    assert "demo fleet demo-hangzhou" in lines[1] and "passwords shown only now: viewer=" in lines[1]
    assert f"daphne on 127.0.0.1:{port}" in lines[2]
    link = re.search(r"http://127\.0\.0\.1:\d+(/login/link/[^/\s]+/)$", lines[3])
    assert link, lines[3]
    assert announce_instead_of_serving == [("127.0.0.1", port)]

    assert client.get(link.group(1)).status_code == 302
    assert client.get(link.group(1)).status_code == 410


def test_a_second_start_shows_no_passwords_and_voids_the_first_link(
    client, login_links_on, announce_instead_of_serving
):
    first = re.search(r"(/login/link/[^/\s]+/)$", run(free_port())[3]).group(1)
    again = run(free_port())
    assert "accounts viewer, operator, admin exist" in again[1] and "passwords" not in again[1]
    assert "up to date" in again[0]
    assert client.get(first).status_code == 410


def test_without_sign_in_links_the_url_is_the_fleet_page(settings, announce_instead_of_serving):
    settings.LOGIN_LINK = False
    port = free_port()
    assert run(port)[-1] == f"open     open the dashboard: http://127.0.0.1:{port}/"


def test_a_port_in_use_is_a_clear_error(announce_instead_of_serving):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError, match=f"127.0.0.1:{port} is in use"):
            run(port)
    assert announce_instead_of_serving == []
