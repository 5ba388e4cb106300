"""A long timeline in a real browser: "Load 50 more" fills the gap in place (htmx), and the
"Show changes" switch also hides activity that was loaded later."""

import re

import pytest

from issues.services import add_comment
from tests.conftest import login_in_browser
from tests.factories import make_issue
from workflows.issue_use_cases import update_issue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_load_more_fills_the_gap_in_place(page, live_server, project, reporter):
    issue = make_issue(project, reporter, title="Chatty issue")
    for n in range(60):
        add_comment(issue, author=reporter, body=f"note {n}")
        if n % 10 == 0:
            update_issue(issue, actor=reporter, changes={"environment": f"env {n}"})
    login_in_browser(page, live_server, "reporter", None)
    page.goto(f"{live_server.url}{issue.get_absolute_url()}")
    timeline = page.locator("ol.timeline")
    before = timeline.locator("li.timeline-comment").count()
    more = page.get_by_role("link", name=re.compile(r"Load \d+ more"))
    more.click()
    page.wait_for_function(
        "n => document.querySelectorAll('ol.timeline li.timeline-comment').length > n", arg=before
    )
    assert page.url.endswith(issue.get_absolute_url())  # swapped in place, no navigation
    texts = timeline.locator("li.timeline-comment .markdown-body").all_inner_texts()
    assert [t.strip() for t in texts] == [f"note {n}" for n in range(60)]
    assert page.get_by_role("link", name=re.compile(r"Load \d+ more")).count() == 0
    page.get_by_label("Show changes").uncheck()
    assert timeline.locator("li.timeline-activity:visible").count() == 0
