"""The playbook on the issue page (ticks by POST, htmx and not), on the list and the board."""

import pytest
from django.urls import reverse

from issues.models import IssueEvent, IssueType, Status
from playbooks.models import ChecklistItem
from playbooks.services import TemplateDraft, save_template
from tests.factories import make_issue
from workflows.services import transition_issue

pytestmark = pytest.mark.django_db

ITEMS = [("Rotate affected credentials", True), ("Notify the DPO within 72 h", True)]


def _assigned(project, manager, developer, reporter):
    save_template(
        project,
        IssueType.SECURITY,
        actor=manager,
        draft=TemplateDraft(playbook_name="Security response", items=ITEMS),
    )
    issue = make_issue(project, reporter, type=IssueType.SECURITY, title="Leaked key")
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    return issue


def _tick_url(issue, position):
    item = ChecklistItem.objects.get(checklist__issue=issue, position=position)
    return reverse("playbook_tick", args=[issue.key, item.pk])


def test_issue_page_shows_the_checklist_and_no_js_tick_records_who(
    client, project, manager, developer, reporter
):
    issue = _assigned(project, manager, developer, reporter)
    client.force_login(developer)
    page = client.get(issue.get_absolute_url()).content.decode()
    assert "Security response" in page and "0/2" in page and "Tick: Rotate" in page
    response = client.post(_tick_url(issue, 0), {"done": "1"})
    assert response.status_code == 302
    page = client.get(issue.get_absolute_url()).content.decode()
    assert "1/2" in page and f"ticked by {developer}" in page
    assert "ticked “Rotate affected credentials” on the playbook" in page  # the timeline


def test_htmx_tick_returns_the_checklist(client, project, manager, developer, reporter):
    issue = _assigned(project, manager, developer, reporter)
    client.force_login(manager)
    response = client.post(_tick_url(issue, 1), {"done": "1"}, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.status_code == 200 and 'id="playbook"' in page and "<html" not in page
    assert "1/2" in page


def test_reporter_sees_but_may_not_tick(client, project, manager, developer, reporter):
    issue = _assigned(project, manager, developer, reporter)
    client.force_login(reporter)
    page = client.get(issue.get_absolute_url()).content.decode()
    assert "Rotate affected credentials" in page and "Tick: Rotate" not in page
    response = client.post(_tick_url(issue, 0), {"done": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert "Only the owner, Managers and Developers" in response.content.decode()
    assert not IssueEvent.objects.filter(issue=issue, data__action="ticked").exists()


def test_ticking_on_an_issue_you_cannot_see_is_404(
    client, project, manager, developer, reporter, outsider
):
    issue = _assigned(project, manager, developer, reporter)
    client.force_login(outsider)
    assert client.post(_tick_url(issue, 0), {"done": "1"}).status_code == 404
    assert ChecklistItem.objects.filter(done_at__isnull=False).count() == 0


def test_transition_panel_says_why_fixed_is_refused(
    client, project, manager, developer, tester, reporter
):
    save_template(
        project,
        IssueType.SECURITY,
        actor=manager,
        draft=TemplateDraft(items=ITEMS, complete_before=Status.FIXED),
    )
    issue = make_issue(project, reporter, type=IssueType.SECURITY)
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    transition_issue(issue, Status.REVISE, actor=developer)
    transition_issue(issue, Status.RETEST, actor=developer, fix_summary="Rotated")
    client.force_login(tester)
    url = reverse("issue_transition", args=[issue.key, Status.FIXED])
    response = client.post(url, {"verify-expected_status": Status.RETEST})
    assert response.status_code == 400
    assert "Complete the playbook first: 2 items still open" in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Status.RETEST


def test_list_and_board_show_progress_at_constant_queries(
    client, project, manager, developer, reporter, django_assert_num_queries
):
    issue = _assigned(project, manager, developer, reporter)
    client.force_login(developer)
    client.post(_tick_url(issue, 0), {"done": "1"})
    for _ in range(5):
        _assigned(project, manager, developer, reporter)
    client.get(reverse("issue_list"))
    with django_assert_num_queries(11):  # as tests/issues/test_list.py pins it
        page = client.get(reverse("issue_list")).content.decode()
    assert page.count("playbook-progress") == 6 and "1/2" in page
    client.get(reverse("board"))
    with django_assert_num_queries(11):  # as tests/boards/test_board.py pins it (no teams here)
        board = client.get(reverse("board")).content.decode()
    assert board.count("playbook-progress") == 6 and "1/2" in board
