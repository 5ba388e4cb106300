"""The board in Chromium: dragging a card is a real transition, with the issue page's panel
for required fields; a refused drop puts the card back and says why."""

import re

import pytest

from issues.models import Issue, Status
from tests.conftest import login_in_browser
from tests.factories import make_issue
from workflows.services import transition_issue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def drag(page, card_selector: str, column_selector: str) -> None:
    """Press on the card's padding (not a link), move in steps, let go over the column."""
    card = page.locator(card_selector).bounding_box()
    target = page.locator(column_selector).bounding_box()
    page.mouse.move(card["x"] + card["width"] - 6, card["y"] + 5)
    page.mouse.down()
    page.mouse.move(card["x"] + card["width"] - 20, card["y"] + 20, steps=4)
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 30, steps=12)
    page.mouse.up()


def cell(status: str) -> str:
    return f"#cell-all-{status}"


def test_drag_new_to_assigned_and_revise_to_retest(page, live_server, project, manager, developer):
    first = make_issue(project, manager, title="Checkout button dead")
    second = make_issue(project, manager, title="Typo on the cart page")
    login_in_browser(page, live_server, "manager", None)
    page.get_by_role("link", name="Issues").first.wait_for()
    page.goto(f"{live_server.url}/projects/WEB/board/")
    assert page.title() == "WEB board · Resolve"

    # New -> Assigned needs an owner: the panel opens in the card; Cancel puts it back.
    drag(page, f"#card-{second.key}", cell("assigned"))
    panel = page.locator(f"#card-{second.key} .board-panel")
    panel.get_by_role("button", name="Cancel").click()
    page.locator(f"{cell('new')} #card-{second.key}").wait_for()
    assert Issue.objects.get(pk=second.pk).status == Status.NEW

    drag(page, f"#card-{first.key}", cell("assigned"))
    panel = page.locator(f"#card-{first.key} .board-panel")
    panel.get_by_label("Owner").select_option(label=str(developer))
    panel.get_by_role("button", name="Assign").click()
    page.get_by_text(f"{first.key} is now Assigned.").wait_for()
    page.locator(f"{cell('assigned')} #card-{first.key}").wait_for()
    first.refresh_from_db()
    assert (first.status, first.owner) == (Status.ASSIGNED, developer)

    # As the owner: Assigned -> Revise takes no field, Revise -> Retest asks for the fix.
    page.context.clear_cookies()
    login_in_browser(page, live_server, "developer", None)
    page.get_by_role("link", name="Issues").first.wait_for()
    page.goto(f"{live_server.url}/projects/WEB/board/")
    drag(page, f"#card-{first.key}", cell("revise"))
    page.get_by_text(f"{first.key} is now Revise.").wait_for()
    page.locator(f"{cell('revise')} #card-{first.key}[data-moves*=retest]").wait_for()
    drag(page, f"#card-{first.key}", cell("retest"))
    panel = page.locator(f"#card-{first.key} .board-panel")
    panel.get_by_label("Fix summary").fill("Rebound the click handler after the cart refresh")
    panel.get_by_role("button", name="Send to retest").click()
    page.get_by_text(f"{first.key} is now Retest.").wait_for()
    first.refresh_from_db()
    assert first.status == Status.RETEST
    assert first.events.filter(
        data__fix_summary="Rebound the click handler after the cart refresh"
    ).exists()


def test_forbidden_and_stale_drops_put_the_card_back(
    page, live_server, project, manager, developer, reporter
):
    issue = make_issue(project, reporter, title="Search returns nothing")
    login_in_browser(page, live_server, "reporter", None)
    page.get_by_role("link", name="Issues").first.wait_for()
    page.goto(f"{live_server.url}/projects/WEB/board/")
    # While dragging, every other column says it will not take the card.
    card = page.locator(f"#card-{issue.key}").bounding_box()
    page.mouse.move(card["x"] + card["width"] - 6, card["y"] + 5)
    page.mouse.down()
    page.mouse.move(card["x"] + 40, card["y"] + 40, steps=6)
    assert page.locator(f"{cell('assigned')}.drop-no").count() == 1
    target = page.locator(cell("assigned")).bounding_box()
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 30, steps=10)
    page.mouse.up()
    page.get_by_text("You may not take “Assign” on WEB-1.").wait_for()
    page.locator(f"{cell('new')} #card-{issue.key}").wait_for()
    assert page.locator(".drop-no").count() == 0
    assert Issue.objects.get(pk=issue.pk).status == Status.NEW

    # Stale: the manager sees New, someone else assigns it meanwhile; the drop is refused (409).
    page.context.clear_cookies()
    login_in_browser(page, live_server, "manager", None)
    page.get_by_role("link", name="Issues").first.wait_for()
    page.goto(f"{live_server.url}/projects/WEB/board/")
    drag(page, f"#card-{issue.key}", cell("closed"))  # Close without fix: its panel opens
    panel = page.locator(f"#card-{issue.key} .board-panel")
    panel.get_by_label("Resolution").select_option(label="Won't fix")
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)  # meanwhile
    panel.get_by_role("button", name="Close without fix").click()
    page.get_by_text(re.compile(rf"{issue.key} was moved to Assigned by manager")).wait_for()
    # Back out of Closed, and the board refreshes to where the issue really is.
    page.locator(f"{cell('assigned')} #card-{issue.key}").wait_for()
    assert page.locator(f"{cell('closed')} #card-{issue.key}").count() == 0
    assert Issue.objects.get(pk=issue.pk).status == Status.ASSIGNED


def test_keyboard_and_phone_width(page, live_server, project, manager, developer):
    a = make_issue(project, manager, title="First", priority=3, severity=4)
    b = make_issue(project, manager, title="Second", priority=1, severity=1)
    c = make_issue(project, manager, title="Third")
    transition_issue(c, Status.ASSIGNED, actor=manager, owner=developer.pk)
    login_in_browser(page, live_server, "manager", None)
    page.get_by_role("link", name="Issues").first.wait_for()
    page.goto(f"{live_server.url}/projects/WEB/board/")
    page.locator(f"#card-{a.key}").focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.id") == f"card-{b.key}"
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == f"card-{c.key}"
    page.keyboard.press("Enter")
    menu = page.locator(f"#card-{c.key} details.card-menu")
    assert menu.get_attribute("open") is not None
    assert page.evaluate("document.activeElement.dataset.moveTo") in ("new", "revise", "closed")
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") == f"card-{c.key}"

    # 390 px: the columns scroll sideways, a column at a time, the page itself does not.
    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    snap = page.evaluate("getComputedStyle(document.getElementById('board-scroll')).scrollSnapType")
    assert snap.startswith("x")
    width = page.evaluate("document.getElementById('head-new').getBoundingClientRect().width")
    assert 300 <= width <= 340
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_text(re.compile(r"updated \d+ s ago")).wait_for()
