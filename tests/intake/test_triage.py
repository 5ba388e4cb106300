"""/triage/: New issues of the user's projects ranked by the documented risk score."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from intake.selectors import triage_queue
from issues.models import Issue, Status
from tests.factories import make_issue

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def _due(issue: Issue, delta: timedelta) -> None:
    Issue.objects.filter(pk=issue.pk).update(resolution_due_at=NOW + delta)


@pytest.fixture
def queue_issues(project, reporter, other_project, outsider):
    with time_machine.travel(NOW - timedelta(days=1), tick=False):
        low = make_issue(project, reporter, title="Typo in footer", severity=1, priority=1)
        critical = make_issue(project, reporter, title="Checkout down", severity=4, priority=3)
        breached = make_issue(project, reporter, title="Slow search", severity=2, priority=2)
        soon = make_issue(project, reporter, title="Broken export", severity=2, priority=2)
        assigned = make_issue(project, reporter, title="Already assigned", severity=4, priority=3)
        make_issue(other_project, outsider, title="Secret outage", severity=4, priority=3)
    _due(breached, -timedelta(hours=1))
    _due(soon, timedelta(hours=3))
    _due(low, timedelta(days=10))
    _due(critical, timedelta(days=10))  # its real 4 h clock would have run out by NOW
    Issue.objects.filter(pk=assigned.pk).update(status=Status.ASSIGNED)
    return {"low": low, "critical": critical, "breached": breached, "soon": soon}


def test_score_combines_severity_priority_sla_and_frequency(queue_issues, reporter, send):
    with time_machine.travel(NOW - timedelta(hours=2), tick=False):
        for _ in range(12):
            send({"title": "Payment webhook fails"})  # files WEB-7 (Major, Medium)
    with time_machine.travel(NOW, tick=False):
        rows = list(triage_queue(reporter))
    scores = {issue.title: issue.risk_score for issue in rows}
    assert scores == {
        "Checkout down": 40 + 20,
        # 12 events in 24 h; filed on Saturday with a 24 business-hour target: 24 business h
        # left (under 24 h), although Wednesday 17:00 is ~100 wall-clock hours away.
        "Payment webhook fails": 25 + 10 + 12 + 15,
        "Slow search": 10 + 10 + 30,  # breached
        "Broken export": 10 + 10 + 25,  # under 4 h left
        # Ten wall-clock days from a Saturday noon are 51 business hours: under 72 h.
        "Typo in footer": 5,
    }
    assert [issue.title for issue in rows] == [
        "Payment webhook fails",
        "Checkout down",
        "Slow search",
        "Broken export",
        "Typo in footer",
    ]


def test_page_shows_score_and_why_and_only_new_issues_of_my_projects(
    client, queue_issues, reporter, django_assert_num_queries
):
    client.force_login(reporter)
    url = reverse("triage")
    with time_machine.travel(NOW, tick=False):
        client.get(url)
        # +2 for time left in business time: the projects' policies for the ranking (SQL)
        # and for the page's rows; +1 since the page's ids are ranked on their own (an
        # index-only read) before those 50 issues are read whole.
        with django_assert_num_queries(9):
            page = client.get(url)
    assert page.status_code == 200
    text = page.text
    assert "<title>Triage queue · Resolve</title>" in text
    assert "Secret outage" not in text
    assert "Already assigned" not in text
    assert text.index("Checkout down") < text.index("Slow search") < text.index("Typo in footer")
    assert "Critical +40 · High priority +20 · 10 d left on the SLA +0" in text
    assert "SLA breached +30" in text
    # Due 3 wall-clock hours after a Saturday noon: no business time left before it, and
    # ranked as under 4 business hours.
    assert "0 business min left on the SLA +25" in text
    assert 'style="' not in text


def test_empty_queue_says_so(client, reporter):
    client.force_login(reporter)
    assert "Nothing to triage" in client.get(reverse("triage")).text


def test_pages_list_the_queue_in_its_order_with_scores_and_events(client, project, reporter, send):
    """The page ranks ids first and reads the rows after: every page shows exactly the
    selector's ranking, scores and event counts included."""
    with time_machine.travel(NOW - timedelta(days=1), tick=False):
        for n in range(57):
            make_issue(
                project, reporter, title=f"Queued {n}", severity=1 + n % 4, priority=1 + n % 3
            )
    with time_machine.travel(NOW - timedelta(hours=2), tick=False):
        for _ in range(12):
            send({"title": "Payment webhook fails"})
    client.force_login(reporter)
    with time_machine.travel(NOW, tick=False):
        expected = [(i.key, i.risk_score, i.events_24h) for i in triage_queue(reporter)]
        shown = []
        for number in (1, 2):
            page = client.get(reverse("triage"), {"page": number})
            assert page.status_code == 200
            for issue, _why in page.context["rows"]:
                shown.append((issue.key, issue.risk_score, issue.events_24h))
    assert len(expected) == 58
    assert shown == expected
    assert any(events == 12 for _key, _score, events in shown)


def test_queue_is_exactly_the_new_issues_the_access_selector_shows(
    queue_issues, project, reporter, outsider, manager, django_user_model
):
    """The queue reads the visible projects as a list of ids (given by the page, or read
    here): the same issues as `issues_visible_to`, archived ones left out, staff seeing all."""
    from django.utils import timezone

    from issues.selectors import issues_visible_to
    from projects.selectors import projects_visible_to

    archived = make_issue(project, reporter, title="Archived", severity=4, priority=3)
    Issue.objects.filter(pk=archived.pk).update(archived_at=timezone.now())
    admin = django_user_model.objects.create_user("root", is_staff=True, is_superuser=True)
    for user in (reporter, outsider, manager, admin):
        expected = set(
            issues_visible_to(user).filter(status=Status.NEW).values_list("pk", flat=True)
        )
        ids = list(projects_visible_to(user).values_list("pk", flat=True))
        assert set(triage_queue(user).values_list("pk", flat=True)) == expected
        assert set(triage_queue(user, project_ids=ids).values_list("pk", flat=True)) == expected
    assert archived.pk not in set(triage_queue(reporter).values_list("pk", flat=True))
    staff_sees = set(triage_queue(admin).values_list("title", flat=True))
    assert {"Secret outage", "Checkout down"} <= staff_sees
