"""One issue from New to Closed through the buttons, each step by the person who would take
it, watching the status and the SLA badge change."""

import pytest
from playwright.sync_api import expect

from issues.models import Issue, Priority, Severity
from tests.conftest import login_in_browser
from tests.factories import make_issue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def as_user(browser, live_server, username):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    login_in_browser(page, live_server, username, None)
    page.get_by_role("link", name="Issues").first.wait_for()
    return page


def open_panel(page, name):
    page.locator(f"details[data-transition={name}] > summary").click()
    return page.locator(f"details[data-transition={name}] form")


def test_new_to_closed_through_the_buttons(browser, live_server, project, cast):
    issue = make_issue(
        project, cast["reporter"], priority=Priority.HIGH, severity=Severity.CRITICAL
    )
    url = f"{live_server.url}{issue.get_absolute_url()}"
    status = "#issue-status"

    manager = as_user(browser, live_server, "manager")
    manager.goto(url)
    expect(manager.locator(".sla-box [data-sla-state]")).to_have_text("On track")
    form = open_panel(manager, "assign")
    form.locator("select").select_option(str(cast["owner"].pk))
    form.get_by_role("button", name="Assign").click()
    expect(manager.locator(status)).to_have_text("Assigned")
    expect(manager.get_by_role("alert")).to_contain_text("WEB-1 is now Assigned.")

    developer = as_user(browser, live_server, "developer")
    developer.goto(url)
    developer.locator("details.sla-hold > summary").click()
    developer.locator("details.sla-hold select").select_option("waiting_on_vendor")
    developer.get_by_role("button", name="Hold", exact=True).click()
    expect(developer.locator(".sla-box [data-sla-state]")).to_have_text("Paused")
    expect(developer.locator(".sla-box")).to_contain_text("Waiting on vendor")
    developer.get_by_role("button", name="Take off hold").click()
    expect(developer.locator(".sla-box [data-sla-state]")).to_have_text("On track")
    developer.get_by_role("button", name="Start work").click()
    expect(developer.locator(status)).to_have_text("Revise")
    form = open_panel(developer, "submit")
    form.locator("textarea").fill("Raised the connection pool size")
    form.get_by_role("button", name="Send to retest").click()
    expect(developer.locator(status)).to_have_text("Retest")
    # The owner cannot verify their own fix: no such button.
    expect(developer.get_by_role("button", name="Verify fix")).to_have_count(0)

    tester = as_user(browser, live_server, "tester")
    tester.goto(url)
    tester.get_by_role("button", name="Verify fix").click()
    expect(tester.locator(status)).to_have_text("Fixed")
    expect(tester.locator(".sla-box [data-sla-state]")).to_have_text("Met")

    reporter = as_user(browser, live_server, "reporter")
    reporter.goto(url)
    form = open_panel(reporter, "close")
    form.get_by_role("button", name="Close").click()  # browser-side required check first
    expect(reporter.locator(status)).to_have_text("Fixed")
    form.get_by_label("Resolution summary").fill("Pool size raised; verified under load")
    form.get_by_label("Root-cause category").select_option("configuration")
    form.get_by_label("Lessons learned").fill("Load-test before each release")
    form.get_by_role("button", name="Close").click()
    expect(reporter.locator(status)).to_have_text("Closed")
    expect(reporter.get_by_role("button", name="Reopen")).to_have_count(0)  # needs a reason
    expect(reporter.locator("details[data-transition=reopen]")).to_have_count(1)
    closed = Issue.objects.get(pk=issue.pk)
    assert (closed.status, closed.root_cause) == ("closed", "configuration")
