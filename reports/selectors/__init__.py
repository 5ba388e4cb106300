"""Dashboard metrics: SQL aggregation over the issues a viewer may see.

Every function takes a `Scope` (who is looking, which issues, which period, in which zone)
and runs grouped SQL (conditional aggregates, `percentile_cont` medians), returning a few
plain rows per group; nothing loops over issues in Python. Access is `issues_visible_to`,
SLA state is `workflows.selectors.annotate_sla_state`: the same rules as everywhere.

Cohorts (documented on the page):
- finished cycles: SLA cycles whose clock stopped (Fixed, or closed) inside the period;
  compliance, MTTA/MTTR, breaches and "resolved" count these, by the issue's current
  priority, severity and type.
- stage stays: status periods that ended inside the period (wall-clock time in the status).
- right now, ageing and workload: open issues at this moment (the period does not apply).
"""

from .drill import DRILL_METRICS, drill_issues
from .history import (
    breaches,
    breaches_by,
    compliance_by_week,
    compliance_grid,
    cycles_by_component,
    lessons,
    resolved_and_created_by_week,
    stage_medians,
    time_to_respond_and_resolve,
)
from .open_issues import age_bucket_dates, ageing, open_groups_by_component, workload
from .right_now import RightNow, right_now
from .scope import (
    AGE_BUCKETS,
    FORECAST_HOURS,
    OPEN_VALUES,
    SEVERITY_WEIGHTS,
    STAGES,
    Scope,
    _pct,
    forecast_condition,
    total,
)

__all__ = [
    "_pct",
    "AGE_BUCKETS",
    "DRILL_METRICS",
    "FORECAST_HOURS",
    "OPEN_VALUES",
    "RightNow",
    "SEVERITY_WEIGHTS",
    "STAGES",
    "Scope",
    "age_bucket_dates",
    "ageing",
    "breaches",
    "breaches_by",
    "compliance_by_week",
    "compliance_grid",
    "cycles_by_component",
    "drill_issues",
    "forecast_condition",
    "lessons",
    "open_groups_by_component",
    "resolved_and_created_by_week",
    "right_now",
    "stage_medians",
    "time_to_respond_and_resolve",
    "total",
    "workload",
]
