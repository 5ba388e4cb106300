"""What a board stores of its own: the WIP limit of a project's column (everything else on a
board is read from the issues)."""

from django.conf import settings
from django.db import models

from issues.models import Status


class ColumnLimit(models.Model):
    """A project's work-in-progress limit for one status column, set by its Managers. A
    cleared limit keeps its row with `limit` None, so that `updated_at` still tells a polling
    board that something changed."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="board_limits"
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    limit = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "status"], name="one_limit_per_column")
        ]

    def __str__(self) -> str:
        return f"{self.project_id} · {self.status}: {self.limit}"
