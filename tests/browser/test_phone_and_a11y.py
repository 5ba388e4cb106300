"""Phone width (390×844) and accessibility: nothing overflows sideways, rows become cards,
filters collapse into a drawer, the bulk bar stays reachable; axe-core (vendored under
static/vendor/axe-core) finds no serious or critical violation on the main pages.

With RESOLVE_SCREENSHOTS=<folder> the README's screenshots are written there as well
(`RESOLVE_SCREENSHOTS=docs/screenshots pytest tests/browser/test_phone_and_a11y.py`)."""

import os
import shutil
from pathlib import Path

import pytest

from issues.models import Priority, Severity, Status
from notifications.services import process_outbox
from tests.conftest import login_in_browser
from tests.factories import make_issue
from workflows.services import transition_issue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LONG = "Checkout times out for customers paying with a saved card after the 3-D Secure step"

AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | ")}`);
}"""


@pytest.fixture
def story(project, manager, developer, tester, reporter):
    """A closed issue with its whole story, and a few open ones with long titles."""
    closed = make_issue(
        project, reporter, title="Refunds are booked twice", severity=Severity.MAJOR
    )
    transition_issue(closed, Status.ASSIGNED, actor=manager, owner=developer.pk)
    transition_issue(closed, Status.REVISE, actor=developer)
    transition_issue(
        closed, Status.RETEST, actor=developer, fix_summary="Idempotency key on refunds"
    )
    transition_issue(closed, Status.REVISE, actor=tester, failure="Second click still books twice")
    transition_issue(
        closed, Status.RETEST, actor=developer, fix_summary="Key checked in the DB too"
    )
    transition_issue(closed, Status.FIXED, actor=tester)
    transition_issue(
        closed,
        Status.CLOSED,
        actor=manager,
        resolution_summary="Refunds carry an idempotency key checked before booking",
        root_cause="code",
        lessons_learned="Payment calls need idempotency keys from the start",
    )
    for n in range(6):
        make_issue(project, reporter, title=f"{LONG} #{n}", priority=Priority.HIGH)
    process_outbox()
    return closed


def _no_sideways_scroll(page) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"scrollWidth {widths[0]} > innerWidth {widths[1]} on {page.url}"


def _axe(page) -> list[str]:
    page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    return page.evaluate(AXE)


def _shot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=name.startswith("issue"))
    assert path.stat().st_size > 10_000
    target = os.environ.get("RESOLVE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)


def test_phone_width_lists_become_cards_and_nothing_overflows(
    browser, live_server, story, developer, tmp_path
):
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        login_in_browser(page, live_server, "developer", None)
        page.wait_for_url(f"{live_server.url}/**")
        page.goto(f"{live_server.url}/issues/")
        _no_sideways_scroll(page)
        row = page.locator(".issue-table tbody tr").first
        assert row.evaluate("r => getComputedStyle(r).display") == "flex"  # a card
        # Filters are in a drawer: hidden until the button opens it.
        assert not page.locator("#filter-form").is_visible()
        page.get_by_role("button", name="Filters").click()
        page.locator("#filter-drawer.show").wait_for()
        assert page.locator("#filter-form").is_visible()
        page.get_by_role("button", name="Close the filters").click()
        page.locator("#filter-drawer.show").wait_for(state="detached")
        _shot(page, tmp_path, "list-phone.png")
        # Selecting a row brings the bulk bar, inside the screen.
        page.locator(".bulk-select").first.check()
        bar = page.locator("#bulk-bar")
        bar.wait_for()
        box = bar.bounding_box()
        assert box is not None and box["y"] + box["height"] <= PHONE["height"] + 1
        # The bulk owner box (a Tom Select picker over the labelled input) is on screen.
        assert page.locator("#bulk-bar").get_by_text("Owner", exact=True).is_visible()
        assert page.locator("#bulk-bar .ts-wrapper").first.is_visible()
        _no_sideways_scroll(page)
        assert _axe(page) == []

        for path in ("/notifications/", "/triage/", story.get_absolute_url(), "/issues/new/"):
            page.goto(f"{live_server.url}{path}")
            _no_sideways_scroll(page)
            assert _axe(page) == [], path
    finally:
        context.close()


def test_main_pages_have_no_serious_accessibility_violations(
    page, live_server, story, manager, tmp_path
):
    page.set_viewport_size({"width": 1280, "height": 900})
    login_in_browser(page, live_server, "manager", None)
    page.wait_for_url(f"{live_server.url}/**")
    # The skip link is the first stop of the keyboard and leads to the content.
    page.goto(f"{live_server.url}/issues/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.is_visible()
    for path in (
        "/issues/",
        story.get_absolute_url(),
        f"{story.get_absolute_url()}sla/ledger/",
        "/issues/new/",
        "/notifications/",
        "/triage/",
        "/projects/",
        "/dashboard/",
    ):
        page.goto(f"{live_server.url}{path}")
        assert _axe(page) == [], path
    page.goto(f"{live_server.url}{story.get_absolute_url()}")
    assert page.locator("#closure-panel").is_visible()
    _shot(page, tmp_path, "issue-closed.png")
    # "Who is notified" loads when opened (htmx swaps the card in), and passes axe too.
    page.locator("#who-is-notified-panel summary").click()
    page.locator("#who-is-notified").wait_for()
    assert "Status change" in page.locator("#who-is-notified").inner_text()
    assert _axe(page) == []


def test_inline_transition_errors_are_announced(page, live_server, project, manager, reporter):
    issue = make_issue(project, reporter, title="Needs an owner")
    login_in_browser(page, live_server, "manager", None)
    page.wait_for_url(f"{live_server.url}/**")
    page.goto(f"{live_server.url}{issue.get_absolute_url()}")
    # Close as a duplicate without naming the original: the server refuses it.
    panel = page.locator("details.transition-panel[data-transition=dismiss]")
    panel.locator("summary").click()
    panel.locator("select").first.select_option("duplicate")
    panel.locator("button[type=submit]").click()
    region = page.locator("#transition-errors-dismiss")
    assert region.get_attribute("aria-live") == "assertive"
    page.wait_for_function(
        "() => document.getElementById('transition-errors-dismiss').textContent.length > 0"
    )
    assert "original issue" in region.inner_text().lower()
    assert page.url.endswith(issue.get_absolute_url())
