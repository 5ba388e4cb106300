"""SLA state derived from the deadlines cached on the issue: one definition for badges,
filters, dashboards and the API.

State of an open issue: paused (clock on hold), breached (resolution deadline passed),
at_risk (a warning threshold passed), on_track otherwise. Finished cycles are met/missed
(kept by the workflows app per cycle).
"""

from .lifecycle import (
    STAGE_ORDER,
    CycleStages,
    available_transitions,
    cycles_of,
    cycles_prefetch,
    developers_of,
    policy_of,
    set_cycles,
    stage_durations,
    transition_overrides,
)
from .sla_state import (
    AT_RISK_OR_BREACHED,
    SLA_FILTER_CHOICES,
    SLA_STATE_CHOICES,
    SlaState,
    annotate_sla_outcome,
    annotate_sla_state,
    clock_running,
    clock_running_condition,
    filter_sla_state,
    sla_state,
    sla_state_condition,
)
from .summary import MovedDeadline, SlaSummary, preview_policy_change, sla_summary
from .time_left import (
    TimeLeft,
    business_horizons,
    current_policies,
    deadline_text,
    time_left,
    time_left_of,
    times_left,
)

__all__ = [
    "clock_running",
    "clock_running_condition",
    "AT_RISK_OR_BREACHED",
    "CycleStages",
    "MovedDeadline",
    "SLA_FILTER_CHOICES",
    "SLA_STATE_CHOICES",
    "STAGE_ORDER",
    "SlaState",
    "SlaSummary",
    "TimeLeft",
    "annotate_sla_outcome",
    "annotate_sla_state",
    "available_transitions",
    "business_horizons",
    "current_policies",
    "cycles_of",
    "cycles_prefetch",
    "set_cycles",
    "deadline_text",
    "developers_of",
    "filter_sla_state",
    "policy_of",
    "preview_policy_change",
    "sla_state",
    "sla_state_condition",
    "sla_summary",
    "stage_durations",
    "time_left",
    "time_left_of",
    "times_left",
    "transition_overrides",
]
