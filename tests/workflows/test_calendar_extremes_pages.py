"""Issue 20, calendars at their extremes, as people meet them: filing an issue, its page, the
dashboard and the SLA settings with a round-the-clock week, a year of holidays and a calendar
with no working time at all within the horizon; fractional targets that round-trip."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from issues.models import Priority, Severity
from tests.factories import make_issue
from tests.workflows.calendar_work import counted_work
from workflows.businesstime import HORIZON_DAYS
from workflows.forms import SlaPolicyForm, format_target, parse_target
from workflows.models import SlaPolicy
from workflows.selectors import policy_of

pytestmark = pytest.mark.django_db

MON = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ROUND_THE_CLOCK = [[[0, 24 * 60]]] * 7


def _page_values(form) -> dict:
    """What the settings page renders in each field (as a browser would send it back)."""
    values = {}
    for name in form.fields:
        value = form[name].value()
        values[name] = value if value is not None else ""
    return values


def _policy(project, **fields):
    return SlaPolicy.objects.create(project=project, version=1, **fields)


def test_round_the_clock_calendar_files_fast_and_the_pages_answer(client, project, reporter):
    _policy(project, working_hours=ROUND_THE_CLOCK, business_severities=[1, 2, 3, 4])
    client.force_login(reporter)
    with time_machine.travel(MON, tick=False), counted_work() as work:
        issue = make_issue(project, reporter, priority=Priority.HIGH, severity=Severity.MAJOR)
        page = client.get(issue.get_absolute_url())
        dashboard = client.get("/dashboard/")
    # Round the clock is the 24x7 fast path: no local year is built day by day.
    assert work.years == 0
    assert issue.resolution_due_at == MON + timedelta(hours=8)  # High + Major: 8 h
    assert page.status_code == 200 and dashboard.status_code == 200
    assert "due in 8 h of clock time" in page.text  # round the clock is clock time


def test_a_year_of_holidays_files_and_shows_the_deadline_a_year_later(client, project, reporter):
    year = [(date(2026, 11, 30) + timedelta(days=i)).isoformat() for i in range(366)]
    _policy(project, holidays=year)
    client.force_login(reporter)
    with time_machine.travel(MON, tick=False):
        issue = make_issue(project, reporter, priority=Priority.HIGH, severity=Severity.MAJOR)
        page = client.get(issue.get_absolute_url())
        dashboard = client.get("/dashboard/")
    assert page.status_code == 200 and dashboard.status_code == 200
    # 2027-12-01 is the first working day (a Wednesday): 09:00-17:00 UTC.
    assert issue.resolution_due_at == datetime(2027, 12, 1, 17, 0, tzinfo=UTC)
    assert "due in 8 business h" in page.text


def test_no_working_time_within_the_horizon_is_said_not_crashed(client, project, reporter):
    closed = [(date(2026, 11, 1) + timedelta(days=i)).isoformat() for i in range(HORIZON_DAYS + 60)]
    _policy(project, holidays=closed)
    client.force_login(reporter)
    with time_machine.travel(MON, tick=False):
        issue = make_issue(project, reporter, priority=Priority.HIGH, severity=Severity.MAJOR)
        page = client.get(issue.get_absolute_url())
        dashboard = client.get("/dashboard/")
        listing = client.get(reverse("issue_list"))
    assert issue.resolution_due_at is None
    assert page.status_code == 200 and dashboard.status_code == 200
    assert listing.status_code == 200
    assert f"no working time within {HORIZON_DAYS} days" in page.text


@pytest.mark.parametrize(
    ("typed", "seconds"),
    [
        ("0.33", 19 * 60 + 48),
        ("0.33 h", 1188),
        ("1,5", 5400),
        ("19 min 48 s", 1188),
        ("1 h 30 min", 5400),
        ("0.3333", 1200),  # more than two decimals: nearest second (1199.88 -> 1200)
        ("10000", 10000 * 3600),
    ],
)
def test_targets_parse_to_exact_seconds(typed, seconds):
    assert parse_target(typed) == seconds


@pytest.mark.parametrize("seconds", [900, 1188, 1199, 1200, 3600, 5400, 86399, 36000000])
def test_targets_render_back_to_what_parses_to_the_same_seconds(seconds):
    assert parse_target(format_target(seconds)) == seconds
    if seconds % 36 == 0:
        assert "." not in format_target(seconds) or len(format_target(seconds).split(".")[1]) <= 2


def test_the_form_rerenders_033_as_typed_and_accepts_its_own_value(client, project, manager):
    client.force_login(manager)
    url = reverse("sla_settings", args=[project.key])
    form = SlaPolicyForm(policy=policy_of(project))
    data = _page_values(form)
    data |= {"note": "Fractional", "res_3_4": "0.33", "preview": "1"}
    with time_machine.travel(MON, tick=False):
        preview = client.post(url, data)
        assert preview.status_code == 200, preview.text
        fingerprint = preview.context["fingerprint"]
        applied = client.post(url, {**data, "apply": "1", "previewed": fingerprint})
    assert applied.status_code == 302
    policy = policy_of(project)
    assert policy.resolution_target(3, 4) == 1188  # 19 min 48 s, not 19 min
    again = client.get(url)
    assert 'value="0.33"' in again.text
    assert "0.31666" not in again.text
    # Sending the page back unchanged is accepted and changes nothing.
    form = SlaPolicyForm(policy=policy)
    resent = _page_values(form) | {
        "note": "Same",
        "preview": "1",
    }
    response = client.post(url, resent)
    assert response.status_code == 200
    assert "1 open issue would move" not in response.text


def test_the_preview_refuses_a_calendar_that_cannot_meet_any_target(client, project, manager):
    client.force_login(manager)
    url = reverse("sla_settings", args=[project.key])
    form = SlaPolicyForm(policy=policy_of(project))
    data = _page_values(form)
    closed = [
        (date(2026, 11, 30) + timedelta(days=i)).isoformat() for i in range(HORIZON_DAYS + 10)
    ]
    data |= {"note": "Closed forever", "holidays": "\n".join(closed), "preview": "1"}
    with time_machine.travel(MON, tick=False):
        response = client.post(url, data)
    assert response.status_code == 400
    assert f"no working time within {HORIZON_DAYS} days" in response.text
    assert "Apply as" not in response.text
    assert SlaPolicy.objects.filter(project=project).count() == 0


def test_the_preview_warns_about_a_long_closed_stretch(client, project, manager):
    client.force_login(manager)
    url = reverse("sla_settings", args=[project.key])
    form = SlaPolicyForm(policy=policy_of(project))
    data = _page_values(form)
    closed = [(date(2026, 11, 30) + timedelta(days=i)).isoformat() for i in range(60)]
    data |= {"note": "Winter break", "holidays": "\n".join(closed), "preview": "1"}
    with time_machine.travel(MON, tick=False):
        response = client.post(url, data)
    assert response.status_code == 200
    assert "No working time for the next 60 days" in response.text
    assert "Apply as" in response.text


def test_business_targets_show_in_business_hours_never_days(client, project, reporter):
    """Issue 17: a 24 business-hour target showed "1 d"."""
    client.force_login(reporter)
    with time_machine.travel(MON, tick=False):
        issue = make_issue(project, reporter, priority=Priority.MEDIUM, severity=Severity.MAJOR)
        page = client.get(issue.get_absolute_url()).text
        listing = client.get(reverse("issue_list")).text
    box = page[page.index('id="sla-title"') :]
    assert "24 business h" in box and "due in 24 business h" in box
    assert "1 d" not in box
    assert "24 business h left" in listing


def test_the_sla_box_costs_the_same_whatever_the_ledger(
    client, project, reporter, manager, django_assert_num_queries
):
    """Issue 16: the SLA box used to re-walk the ledger from the cycle's start on every view.
    It is derived from the cached deadline now: a long history adds no query and no walk."""
    from workflows.services import hold_sla_clock, release_sla_hold

    targets = dict(SlaPolicy().resolution_target_seconds, **{"1:1": 5000 * 3600})
    _policy(project, resolution_target_seconds=targets)
    with time_machine.travel(MON - timedelta(days=200), tick=False):
        issue = make_issue(project, reporter, priority=Priority.LOW, severity=Severity.TRIVIAL)
    client.force_login(manager)
    url = reverse("issue_sla_box", args=[issue.key])
    with time_machine.travel(MON, tick=False):
        client.get(url)
        # session, user, issue (access), cycles with their policy, the role (hold button), and
        # for "How this is measured" the current cycle and its pauses (one ledger query)
        with django_assert_num_queries(7) as short:
            client.get(url)
    moment = MON - timedelta(days=199)
    for _ in range(60):
        with time_machine.travel(moment, tick=False):
            hold_sla_clock(issue, actor=manager, reason="waiting_on_vendor")
        with time_machine.travel(moment + timedelta(hours=5), tick=False):
            release_sla_hold(issue, actor=manager)
        moment += timedelta(days=3)
    with time_machine.travel(MON, tick=False):
        with django_assert_num_queries(len(short.captured_queries)) as long:
            response = client.get(url)
    assert "due in" in response.text and "business h" in response.text
    # The figures never walk the ledger; only the explanation lists the pauses, in one query.
    assert sum("workflows_clockevent" in q["sql"] for q in long.captured_queries) == 1
