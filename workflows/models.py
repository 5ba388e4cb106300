from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from .businesstime import BusinessCalendar


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


class RootCause(models.TextChoices):
    REQUIREMENTS = "requirements", "Requirements"
    DESIGN = "design", "Design"
    CODE = "code", "Code defect"
    CONFIGURATION = "configuration", "Configuration"
    ENVIRONMENT = "environment", "Environment / infrastructure"
    THIRD_PARTY = "third_party", "Third party"
    DATA = "data", "Data"
    PROCESS = "process", "Process"
    UNKNOWN = "unknown", "Unknown"


class HoldReason(models.TextChoices):
    WAITING_ON_REPORTER = "waiting_on_reporter", "Waiting on reporter"
    WAITING_ON_VENDOR = "waiting_on_vendor", "Waiting on vendor"
    WAITING_ON_RELEASE = "waiting_on_release", "Waiting on release"


class TransitionRule(models.Model):
    """A project's override of who may take one transition of the table."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="transition_rules"
    )
    transition = models.CharField(max_length=20)
    actors = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "transition"], name="one_rule_per_transition"
            )
        ]

    def __str__(self) -> str:
        return f"{self.project_id}: {self.transition} by {', '.join(self.actors)}"


def default_week() -> list:
    return [[[9 * 60, 17 * 60]]] * 5 + [[], []]


def default_resolution_targets() -> dict:
    # priority -> severity (Trivial, Minor, Major, Critical) -> hours
    hours = {1: (160, 80, 40, 16), 2: (80, 40, 24, 8), 3: (40, 24, 8, 4)}
    return {
        f"{priority}:{severity}": h * 3600
        for priority, row in hours.items()
        for severity, h in zip((1, 2, 3, 4), row, strict=True)
    }


def default_response_targets() -> dict:
    return {"1": 16 * 3600, "2": 8 * 3600, "3": 4 * 3600, "4": 3600}


# The names the first migrations refer to.
default_resolution_minutes = default_resolution_targets
default_response_minutes = default_response_targets


def default_warnings() -> list:
    return [75]


def default_business_severities() -> list:
    # Critical issues run on a 24x7 clock, the rest in business hours.
    return [1, 2, 3]


class SlaPolicy(models.Model):
    """One version of a project's SLA policy. A change is a new version (never edited in
    place), so finished cycles keep the policy they were measured against."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="sla_policies"
    )
    version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True, help_text="Why the policy changed.")
    # Targets are whole seconds (exact for any hour value with two decimals: 0.01 h = 36 s).
    # "<priority>:<severity>" -> seconds to resolution (Fixed).
    resolution_target_seconds = models.JSONField(default=default_resolution_targets)
    # "<severity>" -> seconds to response (Assigned).
    response_target_seconds = models.JSONField(default=default_response_targets)
    # 75 = when 75 % of the target has elapsed; -30 = 30 minutes before the deadline.
    warnings = models.JSONField(default=default_warnings)
    time_zone = models.CharField(max_length=64, default="UTC")
    # Seven lists (Monday first) of [start, end] in local minutes; end may pass midnight.
    working_hours = models.JSONField(default=default_week)
    holidays = models.JSONField(default=list, blank=True, help_text="ISO dates.")
    holiday_country = models.CharField(max_length=8, blank=True)
    # Severities measured in business hours; the others run 24x7.
    business_severities = models.JSONField(default=default_business_severities)
    paused_statuses = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["project", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="one_policy_version")
        ]

    def __str__(self) -> str:
        return f"SLA policy v{self.version} of project {self.project_id}"

    def resolution_target(self, priority: int, severity: int) -> int:
        """Seconds."""
        return int(self.resolution_target_seconds[f"{int(priority)}:{int(severity)}"])

    def response_target(self, severity: int) -> int:
        """Seconds."""
        return int(self.response_target_seconds[str(int(severity))])

    def calendar_for(self, severity: int) -> BusinessCalendar:
        """The calendar a cycle of this severity runs on (built once per policy object)."""
        business = int(severity) in [int(s) for s in self.business_severities]
        memo = self.__dict__.setdefault("_calendars", {})
        if business not in memo:
            memo[business] = self._calendar(business)
        return memo[business]

    def _calendar(self, business: bool) -> BusinessCalendar:
        if not business:
            return BusinessCalendar(time_zone=self.time_zone, always=True)
        return BusinessCalendar(
            time_zone=self.time_zone,
            week=tuple(tuple((int(s), int(e)) for s, e in day) for day in self.working_hours),
            holidays=frozenset(date.fromisoformat(d) for d in self.holidays),
            country=self.holiday_country,
        )


class CycleOutcome(models.TextChoices):
    MET = "met", "Met"
    MISSED = "missed", "Missed"


class SlaCycle(models.Model):
    """One SLA cycle of an issue (creation or reopen until Fixed or closed). Its targets,
    derived deadlines and, once stopped, its outcome; finished cycles are never rewritten."""

    issue = models.ForeignKey("issues.Issue", on_delete=models.CASCADE, related_name="sla_cycles")
    # The issue's project, copied when the cycle is opened (an issue never changes project), so
    # the dashboard reads one project's cycles of a period without joining every project's.
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    number = models.PositiveIntegerField()
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="cycles")
    business_hours = models.BooleanField(default=True)
    # The cycle's targets in seconds (copied from the policy when it opens or is retargeted).
    response_target_seconds = models.PositiveIntegerField(null=True, blank=True)
    resolution_target_seconds = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=CycleOutcome.choices, blank=True)
    response_outcome = models.CharField(max_length=8, choices=CycleOutcome.choices, blank=True)
    # Filled when the cycle stops: time on the clock vs. time paused (status or hold).
    working_seconds = models.PositiveIntegerField(null=True, blank=True)
    waiting_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Added for the reports app (MTTA in SQL): business seconds on the clock from the start of
    # the cycle to the response (Assigned), pauses excluded; set when the cycle responds.
    # Empty for cycles without a response target (reopens) or never responded to.
    response_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["issue", "number"]
        constraints = [
            models.UniqueConstraint(fields=["issue", "number"], name="one_sla_cycle_number")
        ]
        indexes = [
            models.Index(fields=["stopped_at", "outcome"]),
            # The dashboard's finished cycles of a period, per project; what it aggregates is
            # in the index so the period is read without visiting the table.
            models.Index(
                fields=[
                    "project",
                    "stopped_at",
                    "issue",
                    "outcome",
                    "response_outcome",
                    "response_seconds",
                    "working_seconds",
                ],
                name="slacycle_project_stopped",
            ),
        ]

    def __str__(self) -> str:
        return f"SLA cycle {self.number} of issue {self.issue_id}"


class ClockEventKind(models.TextChoices):
    STARTED = "started", "Started"
    PAUSED = "paused", "Paused"
    RESUMED = "resumed", "Resumed"
    RESPONDED = "responded", "Responded"
    TARGET_CHANGED = "target_changed", "Target changed"
    STOPPED = "stopped", "Stopped"


class PauseSource(models.TextChoices):
    STATUS = "status", "Status"
    HOLD = "hold", "On hold"


class ClockEvent(models.Model):
    """The append-only SLA ledger of an issue; the state is derived from it (see sla.py)."""

    issue = models.ForeignKey("issues.Issue", on_delete=models.CASCADE, related_name="clock_events")
    cycle = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=ClockEventKind.choices)
    at = models.DateTimeField()
    source = models.CharField(max_length=8, choices=PauseSource.choices, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["issue", "cycle", "at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} (cycle {self.cycle}) of issue {self.issue_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("The SLA ledger is append-only.")
        super().save(*args, **kwargs)


class StatusPeriod(models.Model):
    """A stay of an issue in one status; summed per cycle for the stage durations."""

    issue = models.ForeignKey(
        "issues.Issue", on_delete=models.CASCADE, related_name="status_periods"
    )
    # The issue's project (copied on creation, like SlaCycle.project) for the dashboard.
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    cycle = models.PositiveIntegerField()
    status = models.CharField(max_length=16)
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["entered_at", "id"]
        indexes = [
            models.Index(fields=["issue", "cycle"]),
            # The dashboard's stage stays: one project's, ended in a period (index-only).
            models.Index(
                fields=["project", "left_at", "status", "entered_at", "issue"],
                name="statusperiod_project_left",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status} of issue {self.issue_id}"


class AssignmentRule(models.Model):
    """Routes a new issue to an owner or a team. Rules are tried in `position` order;
    empty match fields match everything."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="assignment_rules"
    )
    position = models.PositiveIntegerField(default=0)
    match_component = models.CharField(
        max_length=80, blank=True, help_text="Matches the `component` tag of intake events."
    )
    match_label = models.CharField(max_length=50, blank=True, help_text="A label name.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        "projects.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Sets the issue's component (when it has none); without an owner or a team the rule
    # routes "by component": its lead, else the least-loaded of its default team.
    component = models.ForeignKey(
        "projects.Component",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Sets this component; alone, routes to the component's lead or team.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "intake_assignmentrule"  # created by intake, moved here unchanged
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(owner__isnull=False, team__isnull=True)
                | Q(owner__isnull=True, team__isnull=False)
                | Q(owner__isnull=True, team__isnull=True, component__isnull=False),
                name="rule_targets_owner_team_or_component",
            )
        ]

    def __str__(self) -> str:
        return f"Rule {self.position}: {self.describe()}"

    def describe(self) -> str:
        parts = []
        if self.match_component:
            parts.append(f"component “{self.match_component}”")
        if self.match_label:
            parts.append(f"label “{self.match_label}”")
        when = " and ".join(parts) or "any issue"
        if self.team_id:
            target = f"team {self.team}"
        elif self.owner_id:
            target = f"{self.owner}"
        else:
            target = "by component"
        if self.component_id:
            target = f"component {self.component} · {target}"
        return f"{when} → {target}"


class Availability(models.Model):
    """A person marked out of office until a date (inclusive)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="availability"
    )
    away_until = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=120, blank=True)

    class Meta:
        db_table = "intake_availability"  # created by intake, moved here unchanged
        verbose_name_plural = "availability"

    def __str__(self) -> str:
        return f"{self.user} away until {self.away_until}"
