"""`manage.py add_webhook URL --secret-env VAR [--clusters a,b] [--format ...]`: the secret only from the
environment, one-line errors, audited as the command's user."""

import io

import pytest
from django.core.management import CommandError, call_command

from upgrades.models import AuditEntry, Subscription
from upgrades.security.keys import field_decrypt


def _run(*args):
    out = io.StringIO()
    call_command("add_webhook", *args, stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db
def test_add_webhook_reads_the_secret_from_the_named_variable(receiver, monkeypatch):
    from tests.support.factories import make_cluster

    make_cluster("alpha")
    make_cluster("beta")
    monkeypatch.setenv("HOOK_SECRET", "from-the-env")
    line = _run(receiver.url("/hook/path?token=abc"), "--secret-env", "HOOK_SECRET", "--clusters", "alpha,beta")
    subscription = Subscription.objects.get()
    assert field_decrypt(subscription.secret_encrypted) == "from-the-env"
    assert "from-the-env" not in subscription.secret_encrypted and "token=abc" not in subscription.target_encrypted
    assert sorted(c.name for c in subscription.clusters.all()) == ["alpha", "beta"] and not subscription.all_clusters
    assert line.startswith(f"Subscription {subscription.pk}: generic webhook http://127.0.0.1:")
    assert "token=abc" not in line and "alpha, beta" in line
    entry = AuditEntry.objects.get(action="subscription.create")
    assert entry.actor_label.startswith("command ") and "from-the-env" not in str(entry.detail)
    assert "token=abc" not in str(entry.detail)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--secret-env", "NOPE"], {}, "the environment variable NOPE is unset or empty"),
        ([], {}, "a generic webhook needs a secret: its requests are signed with it"),
        (["--format", "slack", "--secret-env", "S"], {"S": "x"}, "a slack subscription has no signing secret"),
        (["--secret-env", "S", "--clusters", "ghost"], {"S": "x"}, "no cluster named 'ghost'"),
        (["--secret-env", "S", "--events", "upgrade.exploded"], {"S": "x"}, "unknown event 'upgrade.exploded'"),
    ],
)
def test_add_webhook_errors_are_one_line(receiver, monkeypatch, args, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(CommandError) as error:
        _run(receiver.url(), *args)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    assert not Subscription.objects.exists()


@pytest.mark.django_db
def test_add_webhook_refuses_a_private_target(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setenv("S", "x")
    with pytest.raises(
        CommandError, match=r"^target refused: 169\.254\.169\.254 resolves to 169\.254\.169\.254, a link-local"
    ):
        _run("http://169.254.169.254/latest", "--secret-env", "S")


def test_the_secret_cannot_be_given_on_the_command_line():
    with pytest.raises(CommandError, match="unrecognized arguments: --secret oops"):
        call_command("add_webhook", "https://example.com/hook", "--secret", "oops")
