"""A small project with known SLA histories (weekends, a hold, a failed retest, a reopen,
a dismissal) built through the real workflow services while time travels.

Default policy: Mon–Fri 09:00–17:00 UTC for Trivial/Minor/Major, 24x7 for Critical.
Targets used here — response: Trivial 16 h, Minor 8 h, Major 4 h, Critical 1 h;
resolution: Medium/Trivial 80 h, Medium/Minor 40 h, Low/Major 40 h, High/Critical 4 h.

    C  Low/Major bug      filed Fri 06 Nov 15:00, assigned Mon 09 10:00 (3 business h: met),
                          Revise 24 h, Retest 2 h (failed), Revise 4 h, Retest 17 h,
                          Fixed Wed 11 09:30 after 18.5 business h (met), stays Fixed.
    A  Medium/Minor ui_ux filed Mon 09 09:00, assigned 11:00 (2 h: met), Assigned 2 h,
                          on hold Tue 10 09:00 – Wed 11 09:00, Revise 48 h, Retest 21 h,
                          Fixed Thu 12 10:00 after 17 business h (met), Fixed 2 h, closed.
    E  Medium/Trivial task filed Tue 10 09:00, dismissed 10:00 (1 h on the clock: met,
                          never responded).
    B  High/Critical performance filed Fri 13 23:30 (Sat 00:30 in Berlin), assigned Sat 14
                          02:00 (2.5 h: response missed), Assigned 0.5 h, Revise 2 h, Retest 2 h,
                          Fixed 06:30 after 7 h (missed), Fixed 1 h, closed; reopened Mon 16
                          09:00: Assigned 1 h, Revise 1 h, Retest 1 h, Fixed 12:00 after 3 h
                          (met), Fixed 1 h, closed.
"""

from datetime import UTC, datetime

import pytest

from issues.models import IssueType, Priority, Severity
from projects.models import Role
from tests.factories import MembershipFactory, UserFactory, make_issue
from workflows.services import hold_sla_clock, release_sla_hold, transition_issue

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def history(time_machine, project, manager, developer, tester, reporter, team):
    """Build the histories above; returns the issues by letter. Time stops at NOW."""

    def go(moment):
        time_machine.move_to(moment, tick=False)

    close = {"resolution_summary": "Done"}
    go(at(6, 15))
    c = make_issue(
        project,
        reporter,
        title="C search slow",
        priority=Priority.LOW,
        severity=Severity.MAJOR,
        type=IssueType.BUG,
        team=team,
    )
    go(at(9, 9))
    a = make_issue(
        project,
        reporter,
        title="A misaligned button",
        priority=Priority.MEDIUM,
        severity=Severity.MINOR,
        type=IssueType.UI_UX,
        team=team,
    )
    go(at(9, 10))
    transition_issue(c, "assigned", actor=manager, owner=developer.pk)
    go(at(9, 10, 30))
    transition_issue(c, "revise", actor=developer)
    go(at(9, 11))
    transition_issue(a, "assigned", actor=manager, owner=developer.pk)
    go(at(9, 13))
    transition_issue(a, "revise", actor=developer)
    go(at(10, 9))
    hold_sla_clock(a, actor=manager, reason="waiting_on_reporter")
    e = make_issue(
        project,
        reporter,
        title="E rename a label",
        priority=Priority.MEDIUM,
        severity=Severity.TRIVIAL,
        type=IssueType.TASK,
    )
    go(at(10, 10))
    transition_issue(e, "closed", actor=manager, resolution="wont_fix")
    go(at(10, 10, 30))
    transition_issue(c, "retest", actor=developer, fix_summary="Index added")
    go(at(10, 12, 30))
    transition_issue(c, "revise", actor=tester, failure="Still slow")
    go(at(10, 16, 30))
    transition_issue(c, "retest", actor=developer, fix_summary="Query rewritten")
    go(at(11, 9))
    release_sla_hold(a, actor=manager)
    go(at(11, 9, 30))
    transition_issue(c, "fixed", actor=tester)
    go(at(11, 13))
    transition_issue(a, "retest", actor=developer, fix_summary="CSS fixed")
    go(at(12, 10))
    transition_issue(a, "fixed", actor=tester)
    go(at(12, 12))
    transition_issue(
        a,
        "closed",
        actor=manager,
        **close,
        root_cause="design",
        lessons_learned="Check the cache headers",
    )
    go(at(13, 23, 30))
    b = make_issue(
        project,
        reporter,
        title="B checkout times out",
        priority=Priority.HIGH,
        severity=Severity.CRITICAL,
        type=IssueType.PERFORMANCE,
    )
    go(at(14, 2))
    transition_issue(b, "assigned", actor=manager, owner=developer.pk)
    go(at(14, 2, 30))
    transition_issue(b, "revise", actor=developer)
    go(at(14, 4, 30))
    transition_issue(b, "retest", actor=developer, fix_summary="Pool raised")
    go(at(14, 6, 30))
    transition_issue(b, "fixed", actor=tester)
    lessons = {"root_cause": "code", "lessons_learned": "Add a load test to the pipeline"}
    go(at(14, 7, 30))
    transition_issue(b, "closed", actor=manager, **close, **lessons)
    go(at(16, 9))
    transition_issue(b, "assigned", actor=tester, reopen_reason="Slow again")
    go(at(16, 10))
    transition_issue(b, "revise", actor=developer)
    go(at(16, 11))
    transition_issue(b, "retest", actor=developer, fix_summary="Cache added")
    go(at(16, 12))
    transition_issue(b, "fixed", actor=tester)
    go(at(16, 13))
    transition_issue(b, "closed", actor=manager, **close, **lessons)
    go(NOW)
    return {"A": a, "B": b, "C": c, "E": e}


@pytest.fixture
def second_dev(project):
    user = UserFactory(username="devon", display_name="Devon")
    MembershipFactory(project=project, user=user, role=Role.DEVELOPER)
    return user


FRIDAY_4PM = datetime(2026, 11, 13, 16, 0, tzinfo=UTC)


@pytest.fixture
def open_issues(time_machine, project, manager, developer, second_dev, reporter):
    def go(moment):
        time_machine.move_to(moment, tick=False)

    def new(title, priority, severity):
        return make_issue(project, reporter, title=title, priority=priority, severity=severity)

    go(at(2, 9))
    p = new("P overdue", Priority.MEDIUM, Severity.MINOR)  # 40 business h: due Fri 6th 17:00
    transition_issue(p, "assigned", actor=manager, owner=developer.pk)
    go(at(13, 9))
    t = new("T waiting", Priority.MEDIUM, Severity.MINOR)
    go(at(13, 10))
    # 8 business hours from Fri 10:00: due Mon 10:00 (66 h of wall-clock time away at 16:00).
    u = new("U over the weekend", Priority.HIGH, Severity.MAJOR)
    transition_issue(u, "assigned", actor=manager, owner=second_dev.pk)
    hold_sla_clock(t, actor=manager, reason="waiting_on_vendor")
    go(at(13, 14))
    r = new("R critical", Priority.HIGH, Severity.CRITICAL)  # 4 h, 24x7: due 18:00
    go(at(13, 15))
    s = new("S critical but low", Priority.LOW, Severity.CRITICAL)  # 16 h: due Sat 07:00
    go(FRIDAY_4PM)
    return {"P": p, "T": t, "U": u, "R": r, "S": s}
