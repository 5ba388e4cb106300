"""Event intake: tokens, event groups, occurrences, per-day counts and project settings.

An event from a monitoring tool is an `Occurrence`; occurrences with the same fingerprint
share one `EventGroup` (one row per project and fingerprint, enforced by a unique
constraint), and a group becomes an issue once the project's threshold is reached.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from issues.models import IssueType, Severity

# Auto-assignment is the lifecycle's (workflows.assignment); its models are importable from
# here too, where intake's views and services first used them.
from workflows.models import AssignmentRule, Availability  # noqa: F401


class RegressionPolicy(models.TextChoices):
    REOPEN = "reopen", "Reopen the issue"
    NEW_ISSUE = "new_issue", "File a new issue linked to the old one"


class Source(models.TextChoices):
    GENERIC = "generic", "Generic JSON"
    SENTRY = "sentry", "Sentry issue alert"
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    SDK = "sdk", "Sentry SDK"


# Monitoring levels (Sentry/Python logging names and Alertmanager severities) -> Severity.
DEFAULT_LEVEL_SEVERITY = {
    "fatal": Severity.CRITICAL,
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "error": Severity.MAJOR,
    "warning": Severity.MINOR,
    "info": Severity.TRIVIAL,
    "debug": Severity.TRIVIAL,
}


def default_level_severity() -> dict[str, int]:
    return {level: int(sev) for level, sev in DEFAULT_LEVEL_SEVERITY.items()}


class IntakeSettings(models.Model):
    """How one project turns events into issues (a row is created on first use)."""

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="intake_settings"
    )
    threshold = models.PositiveIntegerField(
        default=1,
        help_text="Events of one group needed within the window before an issue is filed.",
    )
    window_minutes = models.PositiveIntegerField(
        default=60, help_text="The time window the threshold is counted in."
    )
    level_severity = models.JSONField(
        default=default_level_severity,
        help_text="Event level -> severity (1 trivial … 4 critical). Unknown levels: Minor.",
    )
    regression_policy = models.CharField(
        max_length=16, choices=RegressionPolicy.choices, default=RegressionPolicy.REOPEN
    )
    issue_type = models.CharField(max_length=16, choices=IssueType.choices, default=IssueType.BUG)
    rate_limit_per_minute = models.PositiveIntegerField(
        default=600, help_text="Events per minute accepted per intake token."
    )
    # Errors sent by Sentry SDKs (intake/sdk.py).
    sdk_retention_days = models.PositiveIntegerField(
        default=30, help_text="Days raw SDK events are kept (the issue and its counts stay)."
    )
    sdk_events_per_group = models.PositiveIntegerField(
        default=100, help_text="Raw SDK events kept per group (the newest)."
    )
    scrub_fields = models.JSONField(
        default=list,
        blank=True,
        help_text="Extra field names whose values are removed from SDK events.",
    )
    drop_local_vars = models.BooleanField(
        default=False, help_text="Drop the local variables of stack frames."
    )
    drop_ip_addresses = models.BooleanField(
        default=True, help_text="Drop IP addresses of users and requests."
    )

    class Meta:
        verbose_name_plural = "intake settings"

    def __str__(self) -> str:
        return f"Intake settings of {self.project_id}"

    def severity_for(self, level: str) -> int:
        value = (self.level_severity or {}).get((level or "").lower())
        if isinstance(value, int) and value in Severity.values:
            return value
        return int(Severity.MINOR)


class IntakeToken(models.Model):
    """A per-project secret for monitoring tools. Only its SHA-256 digest is stored."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="intake_tokens"
    )
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class EventGroup(models.Model):
    """All events sharing one fingerprint in one project."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="event_groups"
    )
    # SHA-256 of the fingerprint text, so that any length of fingerprint fits the unique index.
    fingerprint = models.CharField(max_length=64)
    fingerprint_text = models.CharField(max_length=500)
    source = models.CharField(max_length=16, choices=Source.choices)
    title = models.CharField(max_length=200)
    level = models.CharField(max_length=20, blank=True)
    component = models.CharField(max_length=80, blank=True, help_text="From the `component` tag.")
    issue = models.ForeignKey(
        "issues.Issue",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="event_groups",
    )
    count = models.PositiveIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    last_environment = models.CharField(max_length=120, blank=True)
    last_release = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "fingerprint"], name="one_group_per_fingerprint"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ×{self.count}"


class Occurrence(models.Model):
    """One event as received (trimmed to the documented fields)."""

    # No index of its own: the (group, received_at) index below serves lookups by group, and
    # every event inserts a row here, so each index less is work less per event.
    group = models.ForeignKey(
        EventGroup, on_delete=models.CASCADE, related_name="occurrences", db_index=False
    )
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="occurrences"
    )
    token = models.ForeignKey(
        IntakeToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # NULL (not "") when absent, so the unique constraint only covers events that have one.
    event_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    source = models.CharField(max_length=16, choices=Source.choices)
    received_at = models.DateTimeField()
    timestamp = models.DateTimeField(null=True, blank=True)
    level = models.CharField(max_length=20, blank=True)
    message = models.TextField(blank=True)
    environment = models.CharField(max_length=120, blank=True)
    release = models.CharField(max_length=60, blank=True)
    url = models.URLField(max_length=500, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "event_id"],
                condition=Q(event_id__isnull=False),
                name="one_occurrence_per_client_event_id",
            )
        ]
        indexes = [models.Index(fields=["group", "received_at"])]

    def __str__(self) -> str:
        return f"{self.source} event {self.event_id or self.pk}"


class DailyCount(models.Model):
    """Occurrences per group and UTC day (the chart), upserted on every event."""

    group = models.ForeignKey(EventGroup, on_delete=models.CASCADE, related_name="daily_counts")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["group", "day"], name="one_count_per_day")]

    def __str__(self) -> str:
        return f"{self.day}: {self.count}"


class Regression(models.Model):
    """A group's event arrived after its issue was Fixed/Closed: what the policy did.

    `new_issue` is set when a new issue was filed (linked to `old_issue`); it is the link
    record until the issues app's IssueLink exists.
    """

    group = models.ForeignKey(EventGroup, on_delete=models.CASCADE, related_name="regressions")
    old_issue = models.ForeignKey(
        "issues.Issue", on_delete=models.CASCADE, related_name="regressions_as_old"
    )
    new_issue = models.ForeignKey(
        "issues.Issue",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="regressions_as_new",
    )
    action = models.CharField(max_length=16, choices=RegressionPolicy.choices)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Regression of issue {self.old_issue_id} ({self.action})"


class DsnKey(models.Model):
    """A public key of a project's DSN for Sentry SDKs.

    Like Sentry's, the key is public (it ships inside applications and web pages): it names
    the project an event is for and can be revoked, so it is stored as it is, not hashed."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="dsn_keys"
    )
    name = models.CharField(max_length=80)
    public_key = models.CharField(max_length=32, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "DSN key"

    def __str__(self) -> str:
        return f"{self.name} ({self.public_key[:8]}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class SdkEvent(models.Model):
    """One error event from a Sentry SDK, scrubbed, as accepted; the worker groups it into
    an `EventGroup`/`Occurrence` and an issue (`processed_at`), retention deletes it later."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    key = models.ForeignKey(
        DsnKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event_id = models.CharField(max_length=32)
    received_at = models.DateTimeField()
    payload = models.JSONField()
    size = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    group = models.ForeignKey(
        EventGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="sdk_events"
    )
    # The issue the event counted for when it was processed (the issue page's error panel).
    issue = models.ForeignKey(
        "issues.Issue", null=True, blank=True, on_delete=models.SET_NULL, related_name="sdk_events"
    )
    error = models.CharField(max_length=200, blank=True, help_text="Why processing refused it.")

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "event_id"], name="one_sdk_event_per_id")
        ]
        indexes = [
            models.Index(fields=["issue", "-received_at"], name="sdk_event_issue_recent"),
            models.Index(fields=["group", "-received_at"], name="sdk_event_group_recent"),
            models.Index(fields=["received_at"], name="sdk_event_received"),
            models.Index(
                fields=["id"], name="sdk_event_pending", condition=Q(processed_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"SDK event {self.event_id}"
