from django.db import models
from django.db.models import Q


class CheckpointKind(models.TextChoices):
    WARNING = "warning", "Resolution at risk"
    RESPONSE_BREACH = "response_breach", "Response target breached"
    RESOLUTION_BREACH = "resolution_breach", "Resolution target breached"


class SlaCheckpoint(models.Model):
    """A moment in an issue's SLA cycle that someone must hear about, once.

    The workflows app writes these (and moves or clears `due_at` when the deadline moves or the
    clock pauses); the SLA sweep in `notifications` claims due, unflagged rows by setting
    `flagged_at` with a conditional UPDATE, so each threshold fires once per cycle.
    """

    issue = models.ForeignKey("issues.Issue", on_delete=models.CASCADE, related_name="checkpoints")
    cycle = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=CheckpointKind.choices)
    # Warnings: the share of the target elapsed (e.g. 75) or minutes before the deadline (e.g. -30).
    threshold = models.IntegerField(default=0)
    label = models.CharField(max_length=60, blank=True)
    due_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty while the clock is paused."
    )
    flagged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issue", "cycle", "kind", "threshold"], name="one_checkpoint_per_threshold"
            )
        ]
        indexes = [
            models.Index(fields=["due_at"], name="checkpoint_pending", condition=Q(flagged_at=None))
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.threshold} (cycle {self.cycle}) of issue {self.issue_id}"
