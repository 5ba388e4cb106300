"""The list's owner box in a real browser: Tom Select asks the server while one types."""

import pytest

from tests.conftest import login_in_browser
from tests.factories import make_issue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_picker_searches_members_and_filters(page, live_server, reporter, developer):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    mine = make_issue(reporter.memberships.first().project, reporter, owner=developer)
    login_in_browser(page, live_server, "reporter", None)
    page.goto(f"{live_server.url}/issues/")
    box = page.locator("#id_owner-ts-control")  # Tom Select's typing box for the owner filter
    box.click()
    box.fill("devel")
    page.locator(".ts-dropdown .option", has_text="developer").click()
    assert page.locator("#id_owner").input_value() == "developer"
    # (A click on "Filter" right after picking did not submit in headless Chromium here; the
    # form's own submission does: see the report of issue 16.)
    with page.expect_navigation():
        page.locator("#filter-form").evaluate("form => form.requestSubmit()")
    assert "owner=developer" in page.url, page.url
    assert mine.title in page.content()
    assert not [e for e in errors if "Content Security Policy" in e or "TomSelect" in e]
