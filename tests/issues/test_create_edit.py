from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from issues.models import EventKind, Issue, IssueEvent, Label
from tests.factories import make_issue

pytestmark = pytest.mark.django_db

XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def _new_issue_data(project, **extra):
    data = {
        "project": project.pk,
        "title": "Checkout button does nothing",
        "description": "Click **Pay**, nothing happens.",
        "type": "bug",
        "priority": 3,
        "severity": 3,
    }
    data.update(extra)
    return data


def test_file_an_issue_through_the_form(client, project, reporter, developer):
    client.force_login(reporter)
    page = client.get(reverse("issue_new"))
    assert page.status_code == 200
    assert "<title>New issue · Resolve</title>" in page.text
    response = client.post(reverse("issue_new"), _new_issue_data(project, owner=developer.pk))
    issue = Issue.objects.get()
    assert response.status_code == 302
    assert response["Location"] == "/issues/WEB-1/"
    assert (issue.key, issue.priority, issue.owner, issue.reporter) == (
        "WEB-1",
        3,
        developer,
        reporter,
    )
    assert set(issue.watchers.all()) == {reporter, developer}
    detail = client.get(response["Location"])
    assert "<strong>Pay</strong>" in detail.text
    assert "filed the issue" in detail.text


def test_project_page_preselects_project(client, project, reporter):
    client.force_login(reporter)
    page = client.get(f"/projects/{project.key}/issues/new/")
    assert page.status_code == 200
    assert f'<option value="{project.pk}" selected>' in page.text
    assert "New issue in WEB · Resolve" in page.text


def test_cannot_file_into_a_project_you_cannot_see(client, project, other_project, reporter):
    client.force_login(reporter)
    assert client.get(f"/projects/{other_project.key}/issues/new/").status_code == 404
    response = client.post(reverse("issue_new"), _new_issue_data(other_project))
    assert response.status_code == 400
    assert "Select a valid choice" in response.text
    assert not Issue.objects.exists()


def test_bad_input_is_explained_next_to_the_field_and_nothing_saved(client, project, reporter):
    client.force_login(reporter)
    response = client.post(reverse("issue_new"), _new_issue_data(project, title="  ", priority=9))
    assert response.status_code == 400
    assert "This field is required." in response.text
    assert "Select a valid choice. 9 is not one of the available choices." in response.text
    assert not Issue.objects.exists()


def test_owner_must_be_a_member(client, project, reporter, outsider):
    client.force_login(reporter)
    response = client.post(reverse("issue_new"), _new_issue_data(project, owner=outsider.pk))
    assert response.status_code == 400
    assert not Issue.objects.exists()


def test_script_payloads_never_reach_the_page_as_markup(client, project, reporter):
    client.force_login(reporter)
    client.post(
        reverse("issue_new"),
        _new_issue_data(
            project, title=f"Title {XSS}", description=f"Body {XSS} [x](javascript:alert(3))"
        ),
    )
    issue = Issue.objects.get()
    for url in (
        issue.get_absolute_url(),
        reverse("issue_list"),
        reverse("issue_edit", args=[issue.key]),
    ):
        text = client.get(url).text
        assert "<script>alert" not in text, url
        assert "onerror=" not in text.replace("onerror=&quot;", ""), url
        assert 'href="javascript' not in text, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(issue.get_absolute_url()).text


def test_links_in_markdown_get_nofollow(client, project, reporter):
    issue = make_issue(project, reporter, description="See [docs](https://example.com/x)")
    client.force_login(reporter)
    text = client.get(issue.get_absolute_url()).text
    assert 'href="https://example.com/x" rel="nofollow noopener"' in text


def _edit_data(issue, **changes):
    data = {
        "version": issue.version,
        "title": issue.title,
        "description": issue.description,
        "type": issue.type,
        "priority": issue.priority,
        "severity": issue.severity,
        "owner": issue.owner_id or "",
        "team": issue.team_id or "",
        "environment": issue.environment,
        "component": issue.component_id or "",
        "affected_version": issue.affected_version_id or "",
        "fix_version": issue.fix_version_id or "",
    }
    data.update(changes)
    return data


def test_edit_records_each_change_with_display_values(client, project, reporter, developer, team):
    issue = make_issue(project, reporter, title="Old title")
    label = Label.objects.create(project=project, name="checkout")
    client.force_login(developer)
    response = client.post(
        reverse("issue_edit", args=[issue.key]),
        _edit_data(
            issue,
            title="New title",
            priority=3,
            owner=developer.pk,
            team=team.pk,
            labels=[label.pk],
            reason="Customer escalation",
        ),
    )
    assert response.status_code == 302
    issue.refresh_from_db()
    assert (issue.title, issue.priority, issue.owner, issue.version) == (
        "New title",
        3,
        developer,
        2,
    )
    changes = {
        e.field: (e.old_value, e.new_value, e.data)
        for e in IssueEvent.objects.filter(issue=issue, kind=EventKind.CHANGED)
    }
    assert changes["title"][:2] == ("Old title", "New title")
    assert changes["priority"][:2] == ("Medium", "High")
    assert changes["owner"] == ("", str(developer), {"owner_id": developer.pk})
    assert changes["team"][:2] == ("", "Core")
    assert changes["labels"][:2] == ("", "checkout")
    assert developer in issue.watchers.all()
    page = client.get(issue.get_absolute_url()).text
    assert "changed <em>title</em>" in page


def test_edit_form_has_no_status_field(client, project, reporter):
    issue = make_issue(project, reporter)
    client.force_login(reporter)
    page = client.get(reverse("issue_edit", args=[issue.key]))
    assert 'name="status"' not in page.text
    client.post(reverse("issue_edit", args=[issue.key]), _edit_data(issue, status="closed"))
    issue.refresh_from_db()
    assert issue.status == "new"


def test_stale_edit_is_refused_not_overwritten(client, project, reporter, developer):
    issue = make_issue(project, reporter, title="Original")
    stale = _edit_data(issue, title="Mine")
    client.force_login(developer)
    client.post(reverse("issue_edit", args=[issue.key]), _edit_data(issue, title="Theirs"))
    response = client.post(reverse("issue_edit", args=[issue.key]), stale)
    assert response.status_code == 400
    assert "Someone else changed this issue" in response.text
    assert 'value="Mine"' in response.text  # what the user typed is kept
    issue.refresh_from_db()
    assert issue.title == "Theirs"


def test_sla_moving_change_requires_a_reason_and_recomputes(client, project, reporter):
    """High + Major runs 24x7 on the default policy; High + Critical has a 4 h target."""
    start = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # a Monday
    with time_machine.travel(start, tick=False):
        issue = make_issue(project, reporter, priority=3, severity=3)
    issue.refresh_from_db()
    before = issue.resolution_due_at
    client.force_login(reporter)
    url = reverse("issue_edit", args=[issue.key])
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        response = client.post(url, _edit_data(issue, severity=4))
        assert response.status_code == 400
        assert "This change moves the SLA deadline: say why." in response.text
        issue.refresh_from_db()
        assert issue.severity == 3 and issue.resolution_due_at == before
        response = client.post(url, _edit_data(issue, severity=4, reason="Customer escalation"))
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.severity == 4
    assert issue.resolution_due_at == start + timedelta(hours=4)
    assert issue.resolution_due_at != before
    event = IssueEvent.objects.get(issue=issue, field="severity")
    assert event.data == {"reason": "Customer escalation"}
    sla_event = IssueEvent.objects.get(issue=issue, kind=EventKind.SLA)
    assert sla_event.data["reason"] == "Customer escalation"
    assert sla_event.new_value == (start + timedelta(hours=4)).isoformat()


def test_edit_of_invisible_issue_is_404(client, project, other_project, reporter, outsider):
    secret = make_issue(other_project, outsider)
    client.force_login(reporter)
    assert client.get(reverse("issue_edit", args=[secret.key])).status_code == 404
    assert (
        client.post(
            reverse("issue_edit", args=[secret.key]), _edit_data(secret, title="x")
        ).status_code
        == 404
    )


def test_events_are_append_only(project, reporter):
    from issues.models import AppendOnlyError

    issue = make_issue(project, reporter)
    event = issue.events.first()
    event.new_value = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()


def test_admin_changes_are_audited_and_events_read_only(client, admin_user, project, reporter):
    issue = make_issue(project, reporter, title="Before")
    client.force_login(admin_user)
    url = f"/admin/issues/issue/{issue.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "labels"}
    data.update({"title": "After", "description": "", "environment": "", "affected_version": ""})
    response = client.post(url, data)
    assert response.status_code == 302, response.content
    event = IssueEvent.objects.get(issue=issue, field="title")
    assert (event.actor, event.old_value, event.new_value) == (admin_user, "Before", "After")
    event_url = f"/admin/issues/issueevent/{event.pk}/delete/"
    assert client.post(event_url, {"post": "yes"}).status_code == 403
    assert IssueEvent.objects.filter(pk=event.pk).exists()


def test_file_an_issue_with_an_attachment(client, project, reporter):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(reporter)
    data = _new_issue_data(
        project, attachment=SimpleUploadedFile("trace.txt", b"stack", "text/plain")
    )
    response = client.post(reverse("issue_new"), data)
    assert response.status_code == 302
    issue = Issue.objects.get()
    assert [a.filename for a in issue.attachments.all()] == ["trace.txt"]
    assert "trace.txt" in client.get(issue.get_absolute_url()).text
