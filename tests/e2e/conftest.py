"""Real-browser tests: Debian's Chromium driven by Playwright against the live test server."""
import os
import shutil

import pytest

CHROMIUM = os.environ.get("RADIMMUNO_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
# Playwright's sync API runs an event loop in this thread; the ORM calls in the tests themselves are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set RADIMMUNO_CHROMIUM)."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _vocabularies(vocabularies):
    """Every browser test runs on a flushed database: the shipped vocabularies are reloaded (tests/conftest.py)."""


def login(page, live_server, username, password="pw-for-tests"):
    """Log in through the login form; the home page is the worklist."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/analytics/worklist/")


SCREENSHOTS = os.environ.get("RADIMMUNO_E2E_SCREENSHOTS") or os.path.join(
    os.path.dirname(__file__), "..", "..", "var", "e2e-screenshots")


@pytest.fixture
def shot(page, request):
    """``shot("step")`` saves a full-page screenshot as var/e2e-screenshots/<test>-<n>-<step>.png (CI artefacts)."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    count = iter(range(1, 100))

    def take(step):
        path = os.path.join(SCREENSHOTS, f"{request.node.name}-{next(count):02d}-{step}.png")
        page.screenshot(path=path, full_page=True)
        return path

    return take


AXE = os.path.join(os.path.dirname(__file__), "vendor", "axe-4.14.1.min.js")  # axe-core, MPL-2.0, served locally


def axe_violations(page, *, impacts=("serious", "critical")):
    """Run axe-core (WCAG 2.1 A/AA rules) on the page as it is now; the violations of the given impacts, each as
    "rule: help (n nodes: first selector)"."""
    page.add_script_tag(path=AXE)
    result = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})")
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes: {v['nodes'][0]['target']})"
            for v in result["violations"] if v["impact"] in impacts]
