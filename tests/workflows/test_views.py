"""The pages: transition buttons per user, the no-JS transition form, 4xx answers, SLA hold,
and the Manager-only settings pages."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from issues.models import Issue, Priority, Severity, Status
from tests.factories import make_issue
from workflows.models import SlaPolicy, TransitionRule

MON = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def url(issue, to):
    return reverse("issue_transition", args=[issue.key, to])


def buttons(html):
    import re

    return set(re.findall(r'data-transition="(\w+)"', html))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("manager", {"assign", "dismiss"}),
        ("owner", {"assign"}),
        ("tester", set()),
        ("reporter", set()),
    ],
)
def test_issue_page_shows_only_the_transitions_this_user_may_take(
    client, issue, cast, who, expected
):
    client.force_login(cast[who])
    html = client.get(issue.get_absolute_url()).content.decode()
    assert buttons(html) == expected


@pytest.mark.django_db
def test_issue_page_query_count(client, issue, cast, walk, django_assert_max_num_queries):
    walk(issue, Status.RETEST)
    client.force_login(cast["tester"])
    # The whole page: issues, workflows, notifications, custom fields (fields and values).
    with django_assert_max_num_queries(27):
        response = client.get(issue.get_absolute_url())
    assert buttons(response.content.decode()) == {"fail", "verify"}


@pytest.mark.django_db
def test_assign_through_the_form_without_js(client, issue, cast):
    client.force_login(cast["manager"])
    page = client.get(url(issue, "assigned"))
    assert page.status_code == 200
    assert "<title>Assign · WEB-1" in page.content.decode()
    response = client.post(
        url(issue, "assigned"),
        {"assign-expected_status": "new", "assign-owner": cast["owner"].pk},
    )
    assert response.status_code == 302
    issue.refresh_from_db()
    assert (issue.status, issue.owner) == ("assigned", cast["owner"])
    page = client.get(response["Location"]).content.decode()
    assert "WEB-1 is now Assigned." in page


@pytest.mark.django_db
def test_missing_required_field_shows_the_error_and_changes_nothing(client, issue, cast, walk):
    walk(issue, Status.REVISE)
    client.force_login(cast["owner"])
    response = client.post(
        url(issue, "retest"), {"submit-expected_status": "revise", "submit-fix_summary": " "}
    )
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert Issue.objects.get(pk=issue.pk).status == Status.REVISE


@pytest.mark.django_db
def test_service_field_errors_land_next_to_the_field(client, issue, cast, walk):
    walk(issue, Status.FIXED)
    client.force_login(cast["manager"])
    response = client.post(
        url(issue, "closed"),
        {"close-expected_status": "fixed", "close-resolution_summary": "Done"},
    )
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()  # Major: root cause
    assert Issue.objects.get(pk=issue.pk).status == Status.FIXED


@pytest.mark.django_db
def test_forbidden_transition_answers_403(client, issue, cast):
    client.force_login(cast["tester"])
    assert client.get(url(issue, "assigned")).status_code == 403
    response = client.post(
        url(issue, "assigned"), {"assign-expected_status": "new", "assign-owner": cast["owner"].pk}
    )
    assert response.status_code == 403
    assert "You may not take “Assign” on WEB-1" in response.content.decode()
    assert Issue.objects.get(pk=issue.pk).status == Status.NEW


@pytest.mark.django_db
def test_stale_transition_answers_409_with_who_moved_it(client, issue, cast, walk):
    walk(issue, Status.RETEST)
    client.force_login(cast["manager"])
    # The tester fails the retest while the manager's page still shows Retest.
    client.post(url(issue, "revise"), {"fail-expected_status": "retest", "fail-failure": "No"})
    response = client.post(url(issue, "fixed"), {"verify-expected_status": "retest"})
    assert response.status_code == 409
    assert "WEB-1 was moved to Revise by manager at" in response.content.decode()
    assert Issue.objects.get(pk=issue.pk).status == Status.REVISE


@pytest.mark.django_db
def test_unknown_or_impossible_targets_are_4xx(client, issue, cast):
    client.force_login(cast["manager"])
    assert client.get(url(issue, "fixed")).status_code == 409
    assert client.post(url(issue, "fixed"), {}).status_code == 400
    assert client.post(url(issue, "banana"), {}).status_code == 400


@pytest.mark.django_db
def test_other_projects_issue_is_404(client, issue, cast):
    client.force_login(cast["outsider"])
    assert client.get(url(issue, "assigned")).status_code == 404
    assert client.post(url(issue, "assigned"), {}).status_code == 404
    assert client.get(reverse("issue_sla_box", args=[issue.key])).status_code == 404


@pytest.mark.django_db
def test_sla_badge_and_box_on_the_issue_page(client, project, reporter, cast):
    with time_machine.travel(MON, tick=False):
        issue = make_issue(project, reporter, priority=Priority.HIGH, severity=Severity.CRITICAL)
    client.force_login(cast["manager"])
    with time_machine.travel(datetime(2026, 11, 30, 10, 48, tzinfo=UTC), tick=False):
        html = client.get(issue.get_absolute_url()).content.decode()
    assert 'data-sla-state="on_track"' in html
    assert "due in 3 h 12 min of clock time" in html
    with time_machine.travel(datetime(2026, 11, 30, 16, 0, tzinfo=UTC), tick=False):
        html = client.get(reverse("issue_sla_box", args=[issue.key])).content.decode()
    assert "breached 2 h ago" in html and 'data-sla-state="breached"' in html


@pytest.mark.django_db
def test_hold_and_release_through_the_page(client, issue, cast, walk):
    walk(issue, Status.ASSIGNED)
    client.force_login(cast["tester"])
    assert (
        client.post(
            reverse("issue_sla_hold", args=[issue.key]), {"reason": "waiting_on_vendor"}
        ).status_code
        == 403
    )
    client.force_login(cast["owner"])
    response = client.post(
        reverse("issue_sla_hold", args=[issue.key]), {"reason": "waiting_on_vendor"}, follow=True
    )
    assert "clock on hold (Waiting on vendor)" in response.content.decode()
    assert 'data-sla-state="paused"' in response.content.decode()
    assert "Take off hold" in response.content.decode()
    response = client.post(reverse("issue_sla_release", args=[issue.key]), follow=True)
    assert "clock running again" in response.content.decode()
    assert Issue.objects.get(pk=issue.pk).sla_paused_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["workflow_settings", "sla_settings"])
def test_settings_pages_are_for_managers(client, project, cast, page):
    path = reverse(page, args=[project.key])
    client.force_login(cast["manager"])
    assert client.get(path).status_code == 200
    client.force_login(cast["owner"])
    assert client.get(path).status_code == 403
    client.force_login(cast["outsider"])
    assert client.get(path).status_code == 404
    client.force_login(cast["manager"])
    detail = client.get(reverse("project_detail", args=[project.key])).content.decode()
    assert path in detail


@pytest.mark.django_db
def test_workflow_settings_save_an_override(client, project, issue, cast):
    client.force_login(cast["manager"])
    data = {"assign": ["manager"]}
    from workflows.transitions import TRANSITIONS

    for t in TRANSITIONS:
        data.setdefault(t.name, sorted(t.actors))
    response = client.post(reverse("workflow_settings", args=[project.key]), data)
    assert response.status_code == 302
    assert TransitionRule.objects.get(project=project).transition == "assign"
    client.force_login(cast["owner"])
    assert buttons(client.get(issue.get_absolute_url()).content.decode()) == set()
    # Nobody at all is refused with a message.
    client.force_login(cast["manager"])
    data["verify"] = []
    response = client.post(reverse("workflow_settings", args=[project.key]), data)
    assert response.status_code == 400
    assert "At least one role" in response.content.decode()


def _policy_post(form_initial, **changes):
    data = {}
    for name, value in form_initial.items():
        data[name] = value
    data.update(changes)
    return data


@pytest.fixture
def policy_form_data(project):
    from workflows.forms import SlaPolicyForm
    from workflows.selectors import policy_of

    form = SlaPolicyForm(policy=policy_of(project))
    data = {}
    for name in form.fields:
        # What the page renders in each field (targets as hours, as a user would see them).
        value = form[name].value()
        data[name] = value if value is not None else ""
    data["note"] = "Faster for High"
    return data


@pytest.mark.django_db
def test_sla_policy_preview_then_apply(client, project, reporter, cast, policy_form_data):
    with time_machine.travel(MON, tick=False):
        issue = make_issue(project, reporter, priority=Priority.HIGH, severity=Severity.CRITICAL)
        untouched = make_issue(project, reporter, priority=Priority.LOW, severity=Severity.CRITICAL)
    client.force_login(cast["manager"])
    path = reverse("sla_settings", args=[project.key])
    data = {**policy_form_data, "res_3_4": "2", "preview": "1"}
    with time_machine.travel(MON, tick=False):
        response = client.post(path, data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "1 open issue would move" in html
    assert (
        issue.key in html
        and untouched.key not in html.split("policy-preview")[1].split("</table>")[0]
    )
    assert "−2 h" in html
    assert SlaPolicy.objects.get(project=project).version == 1  # nothing saved yet
    fingerprint = html.split('name="previewed" value="')[1].split('"')[0]
    # Values edited after the preview are not applied blindly.
    response = client.post(path, {**data, "res_3_4": "3", "apply": "1", "previewed": fingerprint})
    assert "changed since the preview" in response.content.decode()
    assert SlaPolicy.objects.filter(project=project).count() == 1
    with time_machine.travel(MON, tick=False):
        response = client.post(path, {**data, "apply": "1", "previewed": fingerprint})
    assert response.status_code == 302
    assert list(SlaPolicy.objects.filter(project=project).values_list("version", flat=True)) == [
        2,
        1,
    ]
    issue.refresh_from_db()
    assert issue.resolution_due_at == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    event = issue.events.get(kind="sla")
    assert event.data["reason"] == "SLA policy v2: Faster for High"


@pytest.mark.django_db
def test_sla_policy_bad_input_is_shown_next_to_the_field(client, project, cast, policy_form_data):
    client.force_login(cast["manager"])
    path = reverse("sla_settings", args=[project.key])
    bad = {
        **policy_form_data,
        "day_0": "9 to 5",
        "warnings": "75, 120",
        "holiday_country": "XX",
        "holidays": "2026-13-01",
        "preview": "1",
    }
    response = client.post(path, bad)
    html = response.content.decode()
    assert response.status_code == 400
    assert "is not like 09:00-17:00" in html
    assert "Use 1–99" in html
    assert "does not know this country" in html
    assert "is not a date" in html
    no_work = {**policy_form_data, **{f"day_{i}": "" for i in range(7)}, "apply": "1"}
    response = client.post(path, no_work)
    assert response.status_code == 400
    assert "needs some working time" in response.content.decode()
    assert not SlaPolicy.objects.filter(project=project).exists()


@pytest.mark.django_db
def test_sla_badge_in_lists_reads_the_policy_once(
    project, reporter, cast, walk, django_assert_num_queries
):
    from django.template import Context, Template

    from workflows.selectors import annotate_sla_outcome, annotate_sla_state

    with time_machine.travel(MON, tick=False):
        running = make_issue(project, reporter, priority=Priority.HIGH, severity=Severity.CRITICAL)
        done = make_issue(project, reporter, priority=Priority.HIGH, severity=Severity.CRITICAL)
        walk(done, Status.FIXED)
    template = Template(
        "{% load workflow_tags %}{% for i in issues %}[{% sla_badge i %}]{% endfor %}"
    )
    with time_machine.travel(datetime(2026, 11, 30, 13, 30, tzinfo=UTC), tick=False):
        qs = annotate_sla_outcome(annotate_sla_state(Issue.objects.order_by("number")))
        # The issues, and the project's policy once (time left in its business time).
        with django_assert_num_queries(2):
            html = template.render(Context({"issues": list(qs)}))
    assert running.key and "At risk · 30 min left" in html
    assert "SLA met" in html
