"""File an issue, find it by a filter and by search, comment with a mention, attach a file."""

import re

import pytest

from issues.models import Attachment, EventKind, IssueEvent
from tests.conftest import login_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_file_find_comment_attach(page, live_server, project, reporter, developer, tmp_path):
    login_in_browser(page, live_server, "reporter", None)
    page.get_by_role("link", name="Issues").first.wait_for()

    # File an issue (the `c` shortcut opens the form).
    page.goto(f"{live_server.url}/issues/")
    page.keyboard.press("c")
    page.wait_for_url(re.compile(r"/issues/new/$"))
    page.select_option("#id_project", label="WEB · Web shop")
    page.fill("#id_title", "Refund button <b>ignores</b> clicks")
    page.fill("#id_description", "Press **Refund**: nothing happens.")
    page.select_option("#id_priority", label="High")
    page.get_by_role("button", name="File issue").click()
    page.wait_for_url(re.compile(r"/issues/WEB-1/$"))
    assert page.title() == "WEB-1 · Refund button <b>ignores</b> clicks · Resolve"
    assert page.locator("#issue-description strong").inner_text() == "Refund"

    # Find it through a filter…
    page.goto(f"{live_server.url}/issues/")
    page.get_by_role("button", name="Any").nth(2).click()  # the Priority dropdown
    page.get_by_label("High").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"priority=3"))
    assert page.locator("tr[data-row-link]").count() == 1
    assert "Priority: High" in page.inner_text("body")
    # …and through the search box (an exact key jumps straight to it).
    page.fill("#global-search", "refund")
    page.press("#global-search", "Enter")
    page.wait_for_url(re.compile(r"q=refund"))
    page.get_by_role("link", name="WEB-1").wait_for()
    page.fill("#global-search", "web-1")
    page.press("#global-search", "Enter")
    page.wait_for_url(re.compile(r"/issues/WEB-1/$"))

    # Comment with a mention.
    page.fill("#id_body", "@developer can you check the payment gateway?")
    page.get_by_role("button", name="Comment", exact=True).click()
    mention = page.locator("a.mention", has_text="@developer")
    mention.wait_for()
    event = IssueEvent.objects.get(kind=EventKind.COMMENTED)
    assert event.data["mentions"] == [developer.pk]

    # Attach a file.
    log = tmp_path / "gateway.log"
    log.write_text("timeout after 30s\n")
    page.set_input_files("#attach-file", str(log))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.get_by_role("link", name="gateway.log").wait_for()
    assert Attachment.objects.get().filename == "gateway.log"
