"""The new-issue form in Chromium: choosing the type swaps in its template (htmx), keeping
the title; a description the user edited stays."""

import re

import pytest
from playwright.sync_api import expect

from issues.models import Issue, IssueType
from playbooks.services import TemplateDraft, save_template
from tests.conftest import login_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_switching_the_type_applies_its_template(page, live_server, project, manager, reporter):
    bug = save_template(
        project, IssueType.BUG, actor=manager, draft=TemplateDraft("## Steps to reproduce\n")
    )
    save_template(
        project, IssueType.SECURITY, actor=manager, draft=TemplateDraft("## Affected systems\n")
    )
    login_in_browser(page, live_server, reporter.username, None)
    page.get_by_role("link", name="Issues").first.wait_for()
    page.goto(f"{live_server.url}/issues/new/?project={project.key}")
    assert "## Steps to reproduce" in page.input_value("#id_description")
    page.fill("#id_title", "Leaked key")
    page.select_option("#id_type", IssueType.SECURITY)
    expect(page.locator("#id_description")).to_have_value(re.compile("Affected systems"))
    expect(page.locator("#template-note")).to_contain_text("v1")
    assert page.input_value("#id_title") == "Leaked key"
    page.fill("#id_description", "## Affected systems\n\nThe payments key")
    page.select_option("#id_type", IssueType.BUG)
    # The fields were re-rendered for Bug (the hidden version is Bug's), the text kept.
    expect(page.locator("#id_template_version")).to_have_value(str(bug.pk))
    assert "The payments key" in page.input_value("#id_description")
    page.get_by_role("button", name="File issue").click()
    page.wait_for_url("**/issues/*-1/")
    assert Issue.objects.get().title == "Leaked key"
