"""Notifications: the inbox rows, their email state, preferences and the escalation ladder.

Exactly-once is enforced by the database, not by hope:
- `Notification` is unique per (recipient, checkpoint arming, ladder step) for SLA alerts and per
  (recipient, event) for outbox events, so a second sweep, a second beat or a retried task
  cannot create a second alert;
- an email leaves only after its row was claimed by a conditional UPDATE (see `services`).
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q


class Kind(models.TextChoices):
    ASSIGNED = "assigned", "Assigned to you"
    STATUS_CHANGED = "status_changed", "Status changed on an issue you watch"
    COMMENTED = "commented", "New comment on an issue you watch"
    MENTIONED = "mentioned", "@mention"
    SLA_AT_RISK = "sla_at_risk", "SLA at risk"
    SLA_BREACHED = "sla_breached", "SLA breached"
    SLA_ESCALATED = "sla_escalated", "SLA still breached (Managers)"
    DAILY_DIGEST = "daily_digest", "Daily SLA digest (Managers)"


class Mode(models.TextChoices):
    IMMEDIATE = "immediate", "Email immediately"
    DIGEST = "digest", "Batched into a digest email"
    INBOX = "inbox", "In-app inbox only"
    OFF = "off", "Off"


# These always go out by email immediately, whatever the preference says.
ALWAYS_IMMEDIATE = frozenset({Kind.ASSIGNED, Kind.MENTIONED, Kind.SLA_BREACHED, Kind.SLA_ESCALATED})
# Default mode for the kinds a user may choose.
DEFAULT_MODES = {
    Kind.STATUS_CHANGED: Mode.IMMEDIATE,
    Kind.COMMENTED: Mode.IMMEDIATE,
    Kind.SLA_AT_RISK: Mode.IMMEDIATE,
    Kind.DAILY_DIGEST: Mode.IMMEDIATE,
}
# The daily digest is itself a digest: batching it makes no sense.
MODES_FOR_KIND = {
    Kind.DAILY_DIGEST: [Mode.IMMEDIATE, Mode.INBOX, Mode.OFF],
}


class Step(models.TextChoices):
    """Rungs of the escalation ladder."""

    WARNING = "warning", "Warning"
    BREACH = "breach", "Breach"
    ESCALATION = "escalation", "Escalation to Managers"


class EmailStatus(models.TextChoices):
    NONE = "none", "No email"
    PENDING = "pending", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    BATCHED = "batched", "Waiting for the digest"
    FAILED = "failed", "Failed"


class EmailState(models.Model):
    """Delivery state of one outgoing email; claimed by a conditional UPDATE before sending."""

    email_status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.NONE
    )
    email_attempts = models.PositiveSmallIntegerField(default=0)
    # A sender owns the row until then; a killed sender's claim simply expires.
    email_claimed_until = models.DateTimeField(null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_error = models.CharField(max_length=300, blank=True)
    message_id = models.CharField(max_length=200, blank=True)

    class Meta:
        abstract = True


class DigestEmail(EmailState):
    """One batched email gathering a user's notifications set to "digest"."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_emails"
    )
    # Which batch window this is; unique per recipient so a repeated run cannot send it twice.
    batch_key = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "batch_key"], name="one_digest_per_batch")
        ]
        indexes = [
            models.Index(
                fields=["email_status"],
                name="digest_email_unsent",
                condition=Q(email_status__in=["pending", "sending"]),
            )
        ]

    def __str__(self) -> str:
        return f"Digest {self.batch_key} for {self.recipient_id}"


class Notification(EmailState):
    """Something a person should hear about: a row in their inbox and, maybe, an email."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.IMMEDIATE)
    issue = models.ForeignKey(
        "issues.Issue", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What caused it: an outbox event, or an SLA checkpoint arming (its due_at) and ladder step.
    event = models.ForeignKey(
        "issues.IssueEvent", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    checkpoint = models.ForeignKey(
        "workflows.SlaCheckpoint",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    checkpoint_due_at = models.DateTimeField(null=True, blank=True)
    step = models.CharField(max_length=12, choices=Step.choices, blank=True)
    digest_date = models.DateField(null=True, blank=True)
    summary = models.CharField(max_length=300)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    digest = models.ForeignKey(
        DigestEmail, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Each person is alerted once per threshold arming and ladder step.
            models.UniqueConstraint(
                fields=["recipient", "checkpoint", "checkpoint_due_at", "step"],
                condition=Q(checkpoint__isnull=False),
                name="one_alert_per_checkpoint_step",
            ),
            # Each person hears once about each event.
            models.UniqueConstraint(
                fields=["recipient", "event"],
                condition=Q(event__isnull=False),
                name="one_notification_per_event",
            ),
            models.UniqueConstraint(
                fields=["recipient", "kind", "digest_date"],
                condition=Q(digest_date__isnull=False),
                name="one_daily_digest_per_day",
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at"]),
            models.Index(
                fields=["recipient"], name="notification_unread", condition=Q(read_at=None)
            ),
            models.Index(
                fields=["email_status"],
                name="notification_email_unsent",
                condition=Q(email_status__in=["pending", "sending"]),
            ),
            models.Index(
                fields=["recipient"],
                name="notification_batched",
                condition=Q(email_status="batched"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.recipient_id}: {self.summary}"


class NotificationPreference(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    mode = models.CharField(max_length=10, choices=Mode.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="one_preference_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.mode}"


def default_escalate_after() -> timedelta:
    return timedelta(minutes=settings.SLA_ESCALATE_AFTER_MINUTES)


class EscalationLadder(models.Model):
    """Who hears about a project's SLA thresholds. Without a row, the defaults apply.

    Default: warning -> the owner (the team lead when unassigned); breach -> the owner and the
    team lead; still breached after `escalate_after` -> the project's Managers (always on).
    """

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="escalation_ladder"
    )
    warn_owner = models.BooleanField(
        default=True, help_text="Warnings go to the owner (the team lead when unassigned)."
    )
    breach_owner = models.BooleanField(default=True, help_text="Breaches go to the owner.")
    breach_team_lead = models.BooleanField(default=True, help_text="Breaches go to the team lead.")
    escalate_after = models.DurationField(
        default=default_escalate_after,
        help_text="Still breached after this long: the project's Managers are alerted "
        "(cannot be turned off).",
    )

    def __str__(self) -> str:
        return f"Escalation ladder of project {self.project_id}"


class SlaEscalation(models.Model):
    """The pending last rung: armed when a breach is flagged, fired once by the sweep."""

    checkpoint = models.ForeignKey(
        "workflows.SlaCheckpoint", on_delete=models.CASCADE, related_name="escalations"
    )
    breach_due_at = models.DateTimeField()
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["checkpoint", "breach_due_at"], name="one_escalation_per_breach"
            )
        ]
        indexes = [
            models.Index(fields=["due_at"], name="escalation_pending", condition=Q(fired_at=None))
        ]

    def __str__(self) -> str:
        return f"Escalation of checkpoint {self.checkpoint_id} due {self.due_at}"


SLA_SWEEP_JOB = "sla_sweep"  # the SLA sweep's SweepHeartbeat row


class SweepHeartbeat(models.Model):
    """When a periodic job last finished (one row per job), so people can see it is alive."""

    job = models.CharField(max_length=40, primary_key=True)
    finished_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    flagged = models.PositiveIntegerField(default=0)
    escalated = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.job} at {self.finished_at:%Y-%m-%d %H:%M:%S}"
