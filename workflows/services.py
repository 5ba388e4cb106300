"""Status changes and SLA clocks. The workflows app owns every status change.

Contract used by other apps (the bodies are filled in by the workflows work):
- `start_sla_clock(issue, *, actor)`: called by `issues.services.create_issue`.
- `sla_change_needs_reason(issue, *, priority, severity) -> bool`: the edit form asks for a
  reason when a priority/severity change would move a deadline.
- `recompute_sla(issue, *, actor, reason)`: called after priority/severity changes.
- `transition_issue(issue, to, *, actor, **data)`: the one way to change `Issue.status`.
"""

from issues.models import Issue


class WorkflowError(Exception):
    """A refused transition or SLA change; `str(error)` is the message shown to the user."""


def start_sla_clock(issue: Issue, *, actor) -> None:
    return None


def sla_change_needs_reason(issue: Issue, *, priority: int, severity: int) -> bool:
    return False


def recompute_sla(issue: Issue, *, actor, reason: str) -> None:
    return None


def transition_issue(issue: Issue, to: str, *, actor, **data) -> Issue:
    raise WorkflowError("Status changes are not available yet.")
