"""Board writes. Moving a card is not here: it is `workflows.services.transition_issue`."""

from __future__ import annotations

from django.db import transaction

from issues.models import Status
from projects.models import Project
from workflows.policy_changes import require_manager
from workflows.services import WorkflowError

from .models import ColumnLimit

MAX_LIMIT = 999


def set_column_limits(project: Project, *, actor, limits: dict[str, int | None]) -> None:
    """Set the WIP limit of each named column (None clears it); Managers only.

    Steps: refuse non-managers and bad values -> one upsert per changed column, in one
    transaction (a cleared limit keeps its row, so polling boards see the change)."""
    require_manager(project, actor)
    for status, limit in limits.items():
        if status not in Status.values:
            raise WorkflowError(f"There is no status “{status}”.")
        if limit is not None and not 1 <= limit <= MAX_LIMIT:
            raise WorkflowError(f"A WIP limit is between 1 and {MAX_LIMIT}.", field=status)
    current = {c.status: c for c in ColumnLimit.objects.filter(project=project)}
    with transaction.atomic():
        for status, limit in limits.items():
            row = current.get(status)
            if row is None:
                if limit is not None:
                    ColumnLimit.objects.create(
                        project=project, status=status, limit=limit, updated_by=actor
                    )
            elif row.limit != limit:
                row.limit = limit
                row.updated_by = actor
                row.save(update_fields=["limit", "updated_by", "updated_at"])
