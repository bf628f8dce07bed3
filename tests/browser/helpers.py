"""Browser-test helpers: how Chromium is launched here, where screenshots go, and closing the ORM connections
an async test opens. The live server comes from tests/support/ (the `live_server_factory` fixture)."""

import functools

from django.conf import settings
from django.db import connections
from django.test import Client

from tests.support.paths import PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The window most browser tests look at pages in (a laptop screen).
VIEWPORT = {"width": 1366, "height": 900}


async def signed_in_page(browser, server, user, *, viewport=VIEWPORT, init_script=None, **context_options):
    """A new browser context signed in as `user` (a session made with Django's Client.force_login, its cookie
    handed to the browser), a page in it, and the list the page's uncaught script errors collect into.
    `init_script` runs in every page of the context before the page's own scripts; other keyword arguments
    (locale, timezone_id...) go to the context. Close it with `await page.context.close()`."""
    client = Client()
    client.force_login(user)
    context = await browser.new_context(viewport=viewport, **context_options)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    await context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": server.url}])
    if init_script is not None:
        await context.add_init_script(init_script)
    page = await context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


async def screenshot(page, name, locator=None):
    """The whole page, or one element of it, saved as test-artifacts/<name> (open it in an image viewer)."""
    ARTIFACTS.mkdir(exist_ok=True)
    if locator is not None:
        await locator.screenshot(path=str(ARTIFACTS / name))
    else:
        await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def closing_db_connections(test):
    """For async tests that use the ORM directly: Django keeps a connection per async context, which the
    test database teardown cannot see or close; close this test's own connections when it ends."""

    @functools.wraps(test)
    async def wrapper(*args, **kwargs):
        try:
            return await test(*args, **kwargs)
        finally:
            connections.close_all()

    return wrapper


# axe-core, installed from package.json / package-lock.json by `make test` (npm ci). Only serious and critical
# findings fail a page; the others are printed as advice.
AXE_JS = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_FAILING_IMPACTS = ("serious", "critical")
# Findings axe leaves to a person because a script could still add what is missing; on server-rendered pages that
# never happens, so these fail too: an aria-describedby naming no element (Django's help-text and error ids).
AXE_UNDECIDED_FAILING_RULES = ("aria-valid-attr-value",)
AXE_MISSING = "axe-core is not installed (node_modules/axe-core): `make test` installs it with `npm ci` (needs npm)"


@functools.cache
def _axe_source():
    return AXE_JS.read_text()


def axe_available():
    """Whether axe-core is installed; the accessibility tests skip (or fail under CI=true) without it."""
    return AXE_JS.is_file()


async def axe_results(page, *, include=None):
    """Run axe-core on the page as it is now (dialogs open, live updates applied) and return its violations and
    the findings it could not decide ("incomplete": a colour over an image, say), as two lists of
    {id, impact, help, helpUrl, nodes: [{target, failureSummary}]}. `include` limits the run to one selector
    (an open dialog, say); by default the whole document is checked."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # Not as a <script> tag: the pages' CSP allows same-origin script files only and would block an inline
        # one. Evaluated through the DevTools protocol, the source is not subject to the page's CSP.
        await page.evaluate(_axe_source())
    context = include or "document"
    return await page.evaluate(
        """async (context) => {
          const target = context === "document" ? document : {include: [[context]]};
          const results = await axe.run(target, {resultTypes: ["violations", "incomplete"]});
          const plain = (found) => found.map((v) => ({
            id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
            nodes: v.nodes.map((n) => ({target: n.target, failureSummary: n.failureSummary})),
          }));
          return [plain(results.violations), plain(results.incomplete)];
        }""",
        context,
    )


def describe_violations(where, violations):
    """One actionable paragraph per violation: rule, impact, what to fix, the elements and the rule's help page."""
    lines = []
    for violation in violations:
        lines.append(
            f"{where}: [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})"
        )
        for node in violation["nodes"][:8]:
            selectors = " ".join(str(part) for part in node["target"])
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {selectors}  -- {summary[:300]}")
        if len(violation["nodes"]) > 8:
            lines.append(f"    ... and {len(violation['nodes']) - 8} more elements")
    return "\n".join(lines)


async def accessibility_failures(page, where, *, include=None):
    """axe-core on the page: prints every other finding (shown when a test fails, or with -s) and returns the text of the serious and critical ones
    (empty when the page passes). Collect these over several pages and assert once, so one run lists them all."""
    violations, undecided = await axe_results(page, include=include)
    failing = [v for v in violations if v["impact"] in AXE_FAILING_IMPACTS]
    failing += [v for v in undecided if v["id"] in AXE_UNDECIDED_FAILING_RULES and v["impact"] in AXE_FAILING_IMPACTS]
    advice = [v for v in violations + undecided if v not in failing]
    if advice:
        print(describe_violations(f"{where} (advice, or for a person to check)", advice))
    return describe_violations(where, failing)


async def assert_accessible(page, where, *, include=None):
    """Fail on any serious or critical axe-core violation of the page as it is now, naming rule, impact,
    elements and help URL."""
    failures = await accessibility_failures(page, where, include=include)
    assert not failures, "axe-core found serious or critical violations:\n" + failures
