"""The dashboard's "by component" figures, read since in one grouped pass of the open issues
and from the period's one statement, against the plain per-component aggregates they
replaced, on varied data (components, owners, severities, every SLA state, finished cycles,
another project's issues that must not count)."""

from datetime import UTC, date, datetime

import pytest
from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When

from issues.models import Issue, Severity
from projects.services import create_component
from reports.selectors import SEVERITY_WEIGHTS, Scope
from reports.shape import by_component
from tests.factories import make_issue
from workflows.issue_use_cases import update_issue
from workflows.models import CycleOutcome
from workflows.selectors import SlaState, annotate_sla_state

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def _reference(scope: Scope) -> dict:
    """The figures as the dashboard computed them before (a filtered count per state and a
    summed weight per component, and the cycles joined to their issues per component)."""
    weight = Case(
        *(When(severity=sev, then=Value(w)) for sev, w in SEVERITY_WEIGHTS.items()),
        default=Value(2),
        output_field=IntegerField(),
    )
    out: dict = {}
    empty = {"open": 0, "at_risk": 0, "breached": 0, "weighted": 0, "finished": 0, "met": 0}
    for row in (
        annotate_sla_state(scope.open_issues(), scope.now)
        .order_by()
        .values("component_id")
        .annotate(
            open=Count("pk"),
            at_risk=Count("pk", filter=Q(sla_state=SlaState.AT_RISK)),
            breached=Count("pk", filter=Q(sla_state=SlaState.BREACHED)),
            weighted=Sum(weight),
        )
    ):
        out.setdefault(row["component_id"], dict(empty)).update(
            {k: row[k] or 0 for k in ("open", "at_risk", "breached", "weighted")}
        )
    for row in (
        scope.finished_cycles()
        .order_by()
        .values("issue__component_id")
        .annotate(finished=Count("pk"), met=Count("pk", filter=Q(outcome=CycleOutcome.MET)))
    ):
        out.setdefault(row["issue__component_id"], dict(empty)).update(
            finished=row["finished"], met=row["met"]
        )
    return out


def test_component_figures_equal_the_per_component_aggregates(
    history, open_issues, project, other_project, manager, outsider, reporter, developer
):
    search = create_component(project, actor=manager, name="Search")
    billing = create_component(project, actor=manager, name="Billing")
    update_issue(history["C"], actor=manager, changes={"component": search})
    update_issue(history["B"], actor=manager, changes={"component": billing})
    update_issue(open_issues["P"], actor=manager, changes={"component": search})
    update_issue(open_issues["R"], actor=manager, changes={"component": billing})
    update_issue(open_issues["T"], actor=manager, changes={"component": billing})
    for n, severity in enumerate(Severity):
        make_issue(project, reporter, title=f"open {n}", component=search, severity=severity)
        make_issue(project, reporter, title=f"bare {n}", severity=severity, owner=developer)
    make_issue(other_project, outsider, title="not visible", severity=Severity.CRITICAL)
    # Severities without a weight of their own count 2 (as before).
    Issue.objects.filter(title="bare 0").update(severity=0)
    scope = Scope(
        user=manager, first_day=date(2026, 11, 1), last_day=date(2026, 11, 18), tz=UTC, now=NOW
    )
    expected = _reference(scope)
    shown = {
        (r["component"].pk if r["component"] else None): {
            k: r[k] for k in ("open", "at_risk", "breached", "weighted", "finished", "met")
        }
        for r in by_component(scope)
    }
    assert shown == expected
    states = {
        s for s in annotate_sla_state(scope.open_issues(), NOW).values_list("sla_state", flat=True)
    }
    assert {SlaState.BREACHED, SlaState.PAUSED} <= states  # the data reaches the states
    assert sum(r["finished"] for r in shown.values()) > 0
    assert shown[search.pk]["open"] >= 5 and shown[None]["weighted"] > 0
