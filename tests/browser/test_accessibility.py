"""axe-core on every page of the dashboard except /admin/ (issue 13): no serious or critical violation.

Each page is opened in Chromium as its users see it, with real objects behind it (a fleet with the Try it card,
simulated and registered real clusters, runs running, failed and finished, audit entries, packages, workers,
a notification subscription with deliveries) and in the states people put it in (the upgrade preview open,
the operator dialog open, a form refused). A new page is one line in PAGES; `test_every_page_route_is_checked`
fails when a route of dashboard/pages/urls.py has no line there (or is not a page: POST-only, not HTML, or a
redirect to the run page). Campaigns, labels, windows and upgrade requests are seeded through their services;
a few states are seen by a user whose UserPreference is zh-hans, for the Chinese pages' lang and contrast.
The dialogs are also walked with the keyboard alone: reached, used and escaped.

Each checked page is saved as test-artifacts/a11y-<n>-<route>.png, to look at after a style change.
"""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any
from urllib.request import urlopen

import pytest
from django.test import Client
from django.urls import URLPattern, resolve, reverse
from django.utils import timezone

from dashboard.pages.urls import urlpatterns
from tests.browser.helpers import (
    AXE_MISSING,
    accessibility_failures,
    assert_accessible,
    axe_available,
    closing_db_connections,
    screenshot,
)
from tests.live.helpers import append_log, make_dag
from tests.support.builds import OB_4_2_0_0_20230801
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.builds import OBSHELL_4_2_2_0_20240108 as OBSHELL
from tests.support.dags import start_upgrade
from tests.support.environment import missing_service
from tests.support.factories import make_cluster, make_user
from tests.support.fake_agent import FakeCluster
from tests.support.history import done, finished_run
from tests.support.packages import add_obshell_package, stock_packages
from tests.support.waiting import wait_until, wait_until_running
from upgrades.audit import Actor
from upgrades.backends.faults import fault_inject
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import AuditEntry, Campaign, CampaignCluster, Cluster, Dag, Fault, Node, SubTask, TaskLog
from upgrades.operations.durations import refresh_step_durations
from upgrades.security.tokens import token_create
from upgrades.services.campaign_scheduler import advance_campaigns
from upgrades.services.campaigns import campaign_create, campaign_start
from upgrades.services.faults import fault_arm
from upgrades.services.labels import label_set
from upgrades.services.notifications import subscription_create
from upgrades.services.preferences import preference_set
from upgrades.services.real_clusters import cluster_register_obshell
from upgrades.services.upgrade_requests import upgrade_request_create
from upgrades.services.windows import window_add

pytestmark = pytest.mark.django_db(transaction=True)

LAPTOP = {"width": 1366, "height": 768}
DEADLINE_MS = 30_000


# -- the pages ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page in one state. `route` is its URL name in dashboard/pages/urls.py ("" for the error pages);
    `path` may name the seeded objects: {failed}, {running}, {finished} (run ids), {subscription};
    `user` is a role ("admin", "operator", "viewer") or None for a visitor; `then` is a coroutine function that puts the page in its state (opens a dialog, submits a form) before the check."""

    route: str
    state: str
    path: str
    user: str | None = "admin"
    then: Callable[[Any], Awaitable[None]] | None = None


async def preview_upgrade(page):
    await page.fill("#id_reason", "CHG-1301: quarterly patch")
    await page.click("button[value=preview]")
    await page.wait_for_selector("#plan")


async def preview_stop_service(page):
    await page.check("#id_mode_1")
    await preview_upgrade(page)


async def preview_obshell(page):
    await page.fill("#id_obshell-reason", "CHG-1302: obshell fixes")
    await page.click("[data-agent-preview]")
    await page.wait_for_selector("#plan")


async def create_token(page):
    await page.fill("#id_token_label", "ci-pipeline")
    await page.click(".token-form button[type=submit]")
    await page.wait_for_selector("[data-token-secret]")


async def wrong_password(page):
    await page.fill("#id_username", "ada")
    await page.fill("#id_password", "not-the-password")
    await page.click("button[type=submit]")
    await page.wait_for_selector(".alert-error")


async def submit_empty(page):
    """The first form of the page sent empty, past the browser's own checks: the server's refusal is shown."""
    await page.evaluate("() => document.querySelectorAll('main form').forEach((form) => { form.noValidate = true; })")
    await page.locator("main form button[type=submit]").first.click()
    await page.wait_for_load_state()


async def live_run(page):
    await page.wait_for_selector("[data-conn=live]")


async def stalled_run(page):
    await live_run(page)
    await page.locator("[data-role=stall]").wait_for(timeout=DEADLINE_MS)


async def open_failed_log(page):
    await live_run(page)
    await page.locator(".node[data-node-state=FAILED] .subtask-head").first.click()
    await page.locator(".node[data-node-state=FAILED] pre.log").first.wait_for()


async def open_retry_dialog(page):
    await live_run(page)
    await page.click("[data-action=retry]")
    await page.locator("dialog[data-role=confirm]").wait_for()


async def refuse_empty_reason(page):
    await open_retry_dialog(page)
    await page.click("[data-role=confirm-submit]")
    await page.locator("[data-role=confirm-error]").wait_for()


async def open_keys_help(page):
    await live_run(page)
    await page.click("[data-role=keys-help]")
    await page.locator("#run-keys").wait_for()


async def open_delivery(page):
    await page.locator("#deliveries details summary").first.click()


async def refuse_window(page):
    await page.fill("#window-rule", "whenever it suits")
    await page.click("[data-window-form] button[type=submit]")
    await page.wait_for_selector(".message-error")


async def preview_campaign(page):
    await page.get_by_label("Name", exact=True).fill("spring patch")
    await page.get_by_label("Name pattern").fill("draft-*")
    await page.locator("#id_target_community").select_option(index=1)
    await page.get_by_role("button", name="Preview").click()
    await page.wait_for_selector("[data-campaign-preview]")


async def save_preferences(page):
    await page.locator("main form button[type=submit]").click()
    await page.wait_for_selector(".message-success")


PAGES = [
    Page("login", "the sign-in form", "/login/", user=None),
    Page("login", "a refused sign-in", "/login/", user=None, then=wrong_password),
    Page("login_link", "an unknown sign-in link", "/login/link/no-such-link-secret/", user=None),
    Page("clusters", "the fleet with the Try it card", "/"),
    Page("clusters", "the fleet as a viewer", "/", user="viewer"),
    Page("cluster", "a simulated cluster: topology, upgrade form, tokens, fault drills", "/clusters/demo-hangzhou/"),
    Page("cluster", "the upgrade preview open", "/clusters/demo-hangzhou/", then=preview_upgrade),
    Page("cluster", "a stop-service preview", "/clusters/demo-hangzhou/", then=preview_stop_service),
    Page("cluster", "a preview with a failed pre-check", "/clusters/two-zones/", then=preview_upgrade),
    Page("cluster", "a cluster held by a failed run", "/clusters/demo-shanghai/"),
    Page("cluster", "a cluster as a viewer", "/clusters/demo-shanghai/", user="viewer"),
    Page("cluster", "a registered real cluster", "/clusters/real-hz-1/"),
    Page("cluster_agent_upgrade", "the obshell upgrade preview", "/clusters/demo-hangzhou/", then=preview_obshell),
    Page("token_create", "a new API token, shown once", "/clusters/demo-hangzhou/", then=create_token),
    Page("register_cluster", "the register form", "/register-cluster/"),
    Page("register_cluster", "the register form refused", "/register-cluster/", then=submit_empty),
    Page("run", "a running run with a stalled stage", "/runs/{running}/", then=stalled_run),
    Page("run", "a failed run, its log open", "/runs/{failed}/", then=open_failed_log),
    Page("run", "the operator dialog open", "/runs/{failed}/", then=open_retry_dialog),
    Page("run", "the operator dialog refusing an empty reason", "/runs/{failed}/", then=refuse_empty_reason),
    Page("run", "a finished run, the keys help open", "/runs/{finished}/", then=open_keys_help),
    Page("run", "a failed run as a viewer", "/runs/{failed}/", user="viewer", then=live_run),
    Page("runs", "the run history", "/runs/"),
    Page("runs", "the run history filtered to nothing", "/runs/?state=CANCELLED&q=nothing-matches"),
    Page("audit", "the audit log", "/audit/"),
    Page("packages", "the packages", "/packages/"),
    Page("workers", "the workers", "/workers/"),
    Page("notifications", "the subscriptions", "/notifications/"),
    Page("notifications", "a refused subscription", "/notifications/", then=submit_empty),
    Page("notification", "a subscription and its deliveries", "/notifications/{subscription}/", then=open_delivery),
    Page("cluster", "a production cluster: labels, windows, a request to approve", "/clusters/orders-prod/"),
    Page("cluster", "the requester's own pending request", "/clusters/orders-prod/", user="operator"),
    Page("cluster", "a refused maintenance window", "/clusters/orders-prod/", then=refuse_window),
    Page(
        "cluster",
        "a production preview: route picture, approval needed",
        "/clusters/orders-prod/",
        then=preview_upgrade,
    ),
    Page("cluster", "a two-hop preview: the route picture and its barrier", "/clusters/beta/", then=preview_upgrade),
    Page("cluster", "a cluster with its kept verification", "/clusters/beijing/"),
    Page("run_report", "the change report of a finished run", "/runs/{finished}/report/"),
    Page("run_report", "the change report of a failed run", "/runs/{failed}/report/"),
    Page("run_logs", "a run's logs searched, lines found", "/runs/{failed}/logs/?q=zone2"),
    Page("run_logs", "a run's logs searched, nothing found", "/runs/{failed}/logs/?q=nothing-matches"),
    Page("search", "several matches", "/search?q=demo"),
    Page("search", "no match", "/search?q=nothing-matches"),
    Page("preferences", "the preferences", "/preferences/", user="viewer"),
    Page("preferences", "the preferences saved", "/preferences/", user="viewer", then=save_preferences),
    Page("campaigns", "the campaigns in every state", "/campaigns/"),
    Page("campaigns", "the campaigns as a viewer", "/campaigns/", user="viewer"),
    Page("campaign_new", "the new-campaign form", "/campaigns/new/"),
    Page("campaign_new", "the new-campaign preview", "/campaigns/new/", then=preview_campaign),
    Page("campaign_new", "a refused new campaign", "/campaigns/new/", then=submit_empty),
    Page("campaign", "a draft, clusters left out", "/campaigns/{draft}/"),
    Page("campaign", "awaiting approval", "/campaigns/{awaiting}/"),
    Page("campaign", "awaiting approval, as its creator", "/campaigns/{awaiting}/", user="operator"),
    Page("campaign", "running: a canary running, a cluster waiting for its window", "/campaigns/{campaign_running}/"),
    Page("campaign", "paused after a failed cluster", "/campaigns/{paused}/"),
    Page("campaign", "finished", "/campaigns/{campaign_finished}/"),
    Page("campaign", "finished, as a viewer", "/campaigns/{campaign_finished}/", user="viewer"),
    Page("clusters", "the fleet in Chinese", "/", user="admin-zh"),
    Page("cluster", "a production cluster in Chinese", "/clusters/orders-prod/", user="admin-zh"),
    Page("run", "a failed run in Chinese, its log open", "/runs/{failed}/", user="admin-zh", then=open_failed_log),
    Page("run_report", "a change report in Chinese", "/runs/{finished}/report/", user="admin-zh"),
    Page("campaign", "a paused campaign in Chinese", "/campaigns/{paused}/", user="admin-zh"),
    Page("", "403: a page above the user's role", "/workers/", user="viewer"),
    Page("", "404: no such cluster", "/clusters/no-such-cluster/"),
]

# Routes that are not pages of their own, and how the coverage test makes sure of it.
POST_ONLY = {
    "logout",
    "token_revoke",
    "fault_arm",
    "fault_disarm",
    "hint_dismiss",
    "run_operate",
    "package_upload",
    "package_delete",
    "notification_toggle",
    "notification_test",
    "notification_delete",
    "cluster_refresh",
    "cluster_password",
    "cluster_key_confirm",
    "cluster_label_set",
    "cluster_label_remove",
    "cluster_window_add",
    "cluster_window_remove",
    "upgrade_request_approve",
    "upgrade_request_refuse",
    "upgrade_request_start",
    "campaign_act",
}
NOT_HTML_PAGES = {
    "counters": "the top bar's counters as a fragment (checked inside every page)",
    "run_sub_task_log": "a sub-task's log as plain text",
    "run_log_line": "a log line and its neighbours as JSON (shown inside the run page)",
    "run_logs_zip": "every log of a run as a zip",
    "javascript_catalog": "the scripts' translations, as a script",
    "cluster_package_syncs": "a real cluster's package pushes as a fragment (checked inside its cluster page)",
}
# Routes that only send to a page checked above (permanently, to the run page).
REDIRECTS = {"run_by_generic_id", "run_by_agent_id"}


# -- the seeded world --------------------------------------------------------------------------------------------


def seed_production(users):
    """orders-prod: labelled env=prod, two maintenance windows (its own and its label's), and olga's upgrade
    waiting for a second person's approval."""
    system = Actor.system("test")
    cluster = make_cluster("orders-prod", zones=3)
    label_set(cluster=cluster, key="env", value="prod", actor=system)
    label_set(cluster=cluster, key="region", value="hangzhou", actor=system)
    window_add(cluster=cluster, window="Tue and Thu 01:00-05:00 Asia/Shanghai", name="orders nights", actor=system)
    window_add(label="env=prod", window="daily 22:00-02:00 UTC", actor=system)
    upgrade_request_create(
        cluster=cluster,
        version=TARGET.version,
        release=TARGET.release,
        actor=Actor.for_user(users["operator"]),
        reason="CHG-1304: orders to 4.3.0.1",
    )


def seed_campaigns(users):
    """A campaign in each state, over clusters of its own: a draft (one cluster already on the target, left out),
    one awaiting approval (production), one running (its canary hangs in its first stage, the other cluster
    waits for a closed window), one paused by a failed canary and one finished."""
    olga = Actor.for_user(users["operator"])
    now = timezone.now()

    def create(name, clusters, **options):
        return campaign_create(
            name=name,
            targets={"community": {"version": TARGET.version, "release": TARGET.release}},
            cluster_filter={"clusters": clusters} if isinstance(clusters, list) else clusters,
            actor=olga,
            **options,
        )

    def tick_until_settled(campaign):
        for _ in range(6):
            advance_campaigns(now=timezone.now())
            campaign.refresh_from_db()
            members = CampaignCluster.objects.filter(campaign=campaign, state=CampaignCluster.State.RUNNING)
            for member in members.exclude(dag=None):
                run_dag_to_end(member.dag_id)
            if campaign.state not in (Campaign.State.RUNNING, Campaign.State.SCHEDULED):
                return campaign
        raise AssertionError(f"campaign {campaign.name} is still {campaign.state}")

    for name in ("draft-1", "draft-2", "wave-run-1", "wave-fail-1", "wave-fail-2", "wave-ok-1"):
        make_cluster(name, zones=3)
    closed = make_cluster("wave-run-2", zones=3)
    opens = (now + timedelta(hours=6)).astimezone(UTC)
    window_add(cluster=closed, window=f"daily {opens:%H}:00-{opens:%H}:30 UTC", actor=Actor.system("test"))

    draft = create("spring patch", ["draft-1", "draft-2", "beijing"], reason="CHG-1400: fleet patch")
    awaiting = create("production patch", {"label": "env=prod"})

    running = create("canary hangs", ["wave-run-1", "wave-run-2"], canary_size=2, wave_size=2)
    campaign_start(campaign=running, actor=olga)
    advance_campaigns(now=now)
    canary = CampaignCluster.objects.get(campaign=running, cluster__name="wave-run-1").dag
    first = Node.objects.get(dag=canary, seq=1)
    fault_inject(
        cluster=canary.cluster, node_name=first.name, server=first.sub_tasks.first().server, kind=Fault.Kind.HANG
    )

    paused = create("canary fails", ["wave-fail-1", "wave-fail-2"], failure_threshold=1)
    fault_inject(cluster=Cluster.objects.get(name="wave-fail-1"), node_name="Stop zone2", times=1, actor=olga)
    campaign_start(campaign=paused, actor=olga)
    assert tick_until_settled(paused).state == Campaign.State.PAUSED

    finished = create("one cluster", ["wave-ok-1"])
    campaign_start(campaign=finished, actor=olga)
    assert tick_until_settled(finished).state == Campaign.State.SUCCEEDED
    return {
        "draft": draft.pk,
        "awaiting": awaiting.pk,
        "campaign_running": running.pk,
        "paused": paused.pk,
        "campaign_finished": finished.pk,
    }


@pytest.fixture
def world(live_server_factory, tmp_path):
    """Every object the pages show, then a server whose engine keeps one run hanging in its first stage."""
    if not axe_available():
        missing_service(AXE_MISSING)
    stock_packages(TARGET)
    add_obshell_package(OBSHELL)
    admin = make_user("admin", username="ada")
    users = {"admin": admin, "operator": make_user("operator", username="olga"), "viewer": make_user("viewer")}
    users["admin-zh"] = make_user("admin", username="li-lei")
    preference_set(user=users["admin-zh"], language="zh-hans", time_zone="Asia/Shanghai")
    system = Actor.system("test")
    demo = make_cluster("demo-hangzhou", zones=3)
    token_create(cluster=demo, label="nightly", created_by=admin)
    make_cluster("two-zones", zones=2)
    subscription = subscription_create(
        actor=Actor.for_user(admin), name="DBA on-call", format="email", target="dba-oncall@example.com"
    )

    held = make_cluster("demo-shanghai", zones=3)
    fault_inject(cluster=held, node_name="Stop zone2", times=1, actor=system)
    failed = start_upgrade(held, TARGET, actor=Actor.for_user(admin), reason="CHG-1299: fault drill")
    assert run_dag_to_end(failed.pk).state == "FAILED"
    fault_arm(cluster=held, node_name="Stop zone2", actor=Actor.for_user(admin), reason="drill again")

    finished = start_upgrade(make_cluster("beijing", zones=3), TARGET, actor=system, reason="nightly fleet upgrade")
    assert run_dag_to_end(finished.pk).state == "SUCCEED"

    busy = make_cluster("shenzhen", zones=3)
    for seconds in (1.0, 1.2, 1.5, 1.7, 2.0):  # enough earlier runs to know its first stage's usual time
        finished_run(busy, servers=3, steps=[done(finished.nodes.get(seq=1).action, seconds)])
    refresh_step_durations()
    running = start_upgrade(busy, TARGET, actor=Actor.for_user(admin), reason="CHG-1300: a stage hangs")
    first = Node.objects.get(dag=running, seq=1)
    fault_inject(cluster=busy, node_name=first.name, server=first.sub_tasks.first().server, kind=Fault.Kind.HANG)

    seed_production(users)
    make_cluster("beta", zones=3, version=OB_4_2_0_0_20230801.version, build=OB_4_2_0_0_20230801.build_number)
    campaigns = seed_campaigns(users)
    ids = {"failed": failed.pk, "running": running.pk, "finished": finished.pk, "subscription": subscription.pk}
    ids.update(campaigns)
    with FakeCluster(build="4.2.1.0-100000102023092807") as fake:
        cluster_register_obshell(name="real-hz-1", addresses=fake.addresses, password=fake.password)
        server = live_server_factory(
            EMBEDDED_WORKER=1, EMBEDDED_WORKER_THREADS=3, SIMULATION_SPEED=0, STALL_MIN_SECONDS=0, DEBUG=0
        )
        urlopen(f"{server.url}/healthz").close()  # the embedded engine starts with the first request
        wait_until_running(running.pk, first.name)
        yield {"server": server, "users": users, "ids": ids}


async def new_context(browser, server, user):
    context = await browser.new_context(viewport=LAPTOP)
    if user is not None:
        client = Client()
        client.force_login(user)
        await context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.url}]
        )
    return context


# -- the checks --------------------------------------------------------------------------------------------------


@pytest.mark.browser
@closing_db_connections
async def test_no_page_has_a_serious_or_critical_axe_violation(browser, world):
    server, users = world["server"], world["users"]
    contexts = {}
    failures, errors = [], []
    for number, entry in enumerate(PAGES, start=1):
        if entry.user not in contexts:
            contexts[entry.user] = await new_context(browser, server, users.get(entry.user))
        page = await contexts[entry.user].new_page()
        page.on("pageerror", lambda error, entry=entry: errors.append(f"{entry.state}: {error}"))
        await page.goto(server.url + entry.path.format(**world["ids"]))
        where = f"{entry.path.format(**world['ids'])} ({entry.state}, as {entry.user or 'a visitor'})"
        if entry.then:
            await entry.then(page)
        found = await accessibility_failures(page, where)
        if found:
            failures.append(found)
        await screenshot(page, f"a11y-{number:02d}-{entry.route or 'error'}.png")
        await page.close()
    for context in contexts.values():
        await context.close()
    assert not failures, "axe-core found serious or critical violations:\n" + "\n".join(failures)
    assert errors == []


@pytest.mark.browser
@closing_db_connections
async def test_the_operator_dialog_is_reached_used_and_escaped_by_keyboard(browser, world):
    server, failed = world["server"], world["ids"]["failed"]
    context = await new_context(browser, server, world["users"]["admin"])
    page = await context.new_page()
    await page.goto(f"{server.url}/runs/{failed}/")
    await live_run(page)
    retry = page.locator("[data-action=retry]")
    await retry.wait_for()
    focused = "() => document.activeElement.dataset.action || document.activeElement.dataset.role || ''"
    for _ in range(60):  # from the top of the page, Tab alone reaches Retry
        await page.keyboard.press("Tab")
        if await page.evaluate(focused) == "retry":
            break
    assert await page.evaluate(focused) == "retry"
    await page.keyboard.press("Enter")
    dialog = page.locator("dialog[data-role=confirm]")
    await dialog.wait_for()
    assert await page.evaluate(focused) == "confirm-reason", "the dialog opens with the reason field focused"
    await assert_accessible(page, "the operator dialog", include="dialog[data-role=confirm]")

    # Tab stays inside the open dialog (the page behind it is inert).
    inside = "() => !!document.activeElement.closest('dialog[open]')"
    for _ in range(6):
        await page.keyboard.press("Tab")
        assert await page.evaluate(inside) or await page.evaluate("document.activeElement === document.body")
    # Escape closes it without acting, and focus returns to the button that opened it.
    await page.keyboard.press("Escape")
    await dialog.wait_for(state="hidden")
    assert await page.evaluate(focused) == "retry"
    # Back, by keyboard, does the same.
    await page.keyboard.press("Enter")
    await dialog.wait_for()
    await page.keyboard.press("Tab")  # from the reason field to Back
    assert await page.evaluate(focused) == "confirm-cancel"
    await page.keyboard.press("Enter")
    await dialog.wait_for(state="hidden")
    assert await page.evaluate(focused) == "retry"
    assert not AuditEntry.objects.filter(action="dag.operate", dag_id=failed).exists()

    # And with a reason typed, Enter on Confirm acts.
    await page.keyboard.press("Enter")
    await dialog.wait_for()
    await page.keyboard.type("CHG-1299: zone2 checked, retrying")
    await page.keyboard.press("Tab")  # Back
    await page.keyboard.press("Tab")  # Confirm
    assert await page.evaluate(focused) == "confirm-submit"
    await page.keyboard.press("Enter")
    await dialog.wait_for(state="hidden")
    wait_until(
        lambda: AuditEntry.objects.filter(action="dag.operate", dag_id=failed, outcome="ok").exists(),
        what="the retry audited",
    )
    await context.close()


@pytest.mark.browser
@closing_db_connections
async def test_the_upgrade_preview_and_its_confirmation_are_reached_by_keyboard(browser, world):
    server = world["server"]
    context = await new_context(browser, server, world["users"]["operator"])
    page = await context.new_page()
    await page.goto(f"{server.url}/clusters/demo-hangzhou/")
    await page.focus("#id_mode_0")
    await page.keyboard.press("ArrowRight")  # Stop service: the Upgrade button asks once more, in words
    assert await page.locator("#id_mode_1").is_checked()
    await page.focus("#id_reason")
    await page.keyboard.type("CHG-1303: keyboard only")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.value") == "preview"
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#plan")
    assert await page.evaluate("document.activeElement.id") == "plan", "the preview takes the focus"
    for _ in range(10):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.hasAttribute('data-upgrade-button')"):
            break
    assert await page.evaluate("document.activeElement.hasAttribute('data-upgrade-button')")

    asked = []

    async def escape(dialog):  # what Escape does to the browser's own confirmation
        asked.append(dialog.message)
        await dialog.dismiss()

    page.once("dialog", escape)
    await page.keyboard.press("Enter")
    assert asked and "business traffic is interrupted" in asked[0]
    assert await page.evaluate("document.activeElement.hasAttribute('data-upgrade-button')"), "focus stays put"
    assert not Dag.objects.filter(cluster__name="demo-hangzhou").exists()
    await context.close()


def test_every_page_route_is_checked():
    """A route of dashboard/pages/urls.py is in PAGES, or is shown not to be a page: POST-only routes answer a
    GET with 405, redirects send to the run page, and the others answer with something that is not an HTML
    document."""
    names = {pattern.name for pattern in urlpatterns if isinstance(pattern, URLPattern)}
    checked = {entry.route for entry in PAGES} - {""}
    unchecked = names - checked - POST_ONLY - set(NOT_HTML_PAGES) - REDIRECTS
    assert not unchecked, f"pages with no accessibility check: add a line to PAGES for {sorted(unchecked)}"
    assert not (checked | POST_ONLY | set(NOT_HTML_PAGES) | REDIRECTS) - names, "a name here is no longer a route"

    admin = Client()
    admin.force_login(make_user("admin"))
    for pattern in urlpatterns:
        if pattern.name in POST_ONLY:
            kwargs = {key: 1 if converter.regex == "[0-9]+" else "x" for key, converter in _converters(pattern)}
            response = admin.get(reverse(pattern.name, kwargs=kwargs))
            assert response.status_code == 405, (pattern.name, response.status_code)
    dag = make_dag()
    sub_task = SubTask.objects.filter(dag=dag).first()
    append_log(sub_task.pk, "a line")
    line = TaskLog.objects.filter(sub_task=sub_task).latest("pk")
    Dag.objects.filter(pk=dag.pk).update(remote_dag_id="agent-77")
    cluster = make_cluster("syncs-fragment", zones=1)
    for name, url in (
        ("counters", "/counters/"),
        ("run_sub_task_log", f"/runs/{dag.pk}/subtasks/{sub_task.pk}/log.txt"),
        ("run_log_line", f"/runs/{dag.pk}/logs/lines/{line.pk}/"),
        ("run_logs_zip", f"/runs/{dag.pk}/logs.zip"),
        ("javascript_catalog", "/jsi18n/"),
        ("cluster_package_syncs", f"/clusters/{cluster.name}/package-syncs/"),
    ):
        assert resolve(url).url_name == name, url
        response = admin.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200 and not re.search(rb"<html|<body", body), url
    for name, url in (("run_by_generic_id", f"/runs/generic/1{dag.pk}/"), ("run_by_agent_id", "/runs/agent/agent-77/")):
        assert resolve(url).url_name == name, url
        response = admin.get(url)
        assert response.status_code == 301 and response["Location"] == f"/runs/{dag.pk}/", url


def _converters(pattern):
    return pattern.pattern.converters.items()
