import uuid
from pathlib import PurePath
from typing import Any, Self

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils.safestring import SafeString

# The vocabularies live in choices.py; callers import them from here with the models.
from .choices import (  # noqa: F401  # INVERSE_LINK_LABELS re-exported
    INVERSE_LINK_LABELS,
    OPEN_STATUSES,
    EventKind,
    IssueType,
    LinkKind,
    Priority,
    Resolution,
    Severity,
    Status,
)
from .markdown import stored_html


class StatusChangeRefused(Exception):
    pass


class Label(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=50)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_label_per_project")
        ]

    def __str__(self) -> str:
        return self.name


class Issue(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="issues")
    number = models.PositiveIntegerField(editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # The sanitised rendering of `description`, made when it is saved, and the version of the
    # renderer that made it (issues.markdown.RENDERER_VERSION; 0: never rendered).
    description_html = models.TextField(blank=True, editable=False)
    description_html_version = models.PositiveSmallIntegerField(default=0, editable=False)
    type = models.CharField(max_length=16, choices=IssueType.choices, default=IssueType.BUG)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.MEDIUM)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.MINOR)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reported_issues"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_issues",
    )
    team = models.ForeignKey(
        "projects.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="issues"
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="issues")
    watchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="watched_issues"
    )
    environment = models.CharField(max_length=120, blank=True)
    # Chosen among the project's own (the services refuse another project's).
    component = models.ForeignKey(
        "projects.Component",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="issues",
    )
    affected_version = models.ForeignKey(
        "projects.Version",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="affected_issues",
    )
    fix_version = models.ForeignKey(
        "projects.Version",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fixed_issues",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped on every save; edit forms carry it to refuse overwriting a newer version.
    version = models.PositiveIntegerField(default=1)
    archived_at = models.DateTimeField(null=True, blank=True)

    # Closure analysis, set by the workflows app.
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)
    resolution_summary = models.TextField(blank=True)
    root_cause = models.CharField(max_length=40, blank=True)
    lessons_learned = models.TextField(blank=True)

    # SLA clock, cached from the workflows ledger so that the sweep is an indexed range query.
    sla_cycle = models.PositiveIntegerField(default=1)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    at_risk_at = models.DateTimeField(null=True, blank=True)

    # Full-text document (key, title, description, comments), kept up to date by
    # issues.services.refresh_search_vectors; GIN-indexed on PostgreSQL only (migration 0003).
    search_vector = SearchVectorField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="unique_issue_number")
        ]
        indexes = [
            models.Index(fields=["project", "status"]),
            models.Index(fields=["status", "priority"]),
            models.Index(fields=["owner", "status"]),
            # Newest first (the list's default order, the admin's): the list takes a page's
            # ids from this index alone, visible projects and archiving checked in it, however
            # many issues other projects hold.
            models.Index(
                fields=["-updated_at", "-id"],
                include=["project", "archived_at"],
                name="issue_updated_covering",
            ),
            # The list's capped count, an index-only scan (archived issues are never listed):
            # the visible projects (an IN list) lead, then the two filters people use most.
            # It also carries every column the list sorts by, so a filtered list sorted any
            # way reads its matches from this index alone and sorts only those (no heap
            # visit per match: the filtered list sorted by key took 70 ms in heap reads).
            models.Index(
                fields=["project", "status", "priority"],
                name="issue_live_project_sorts",
                condition=Q(archived_at=None),
                include=[
                    "id",
                    "number",
                    "severity",
                    "owner",
                    "updated_at",
                    "created_at",
                    "resolution_due_at",
                ],
            ),  # fmt: skip
            # Each sort order of the unfiltered list walks one of these (the newest-first
            # tie-breaker included, so a LIMIT stops early); NOT NULL columns sort without a
            # NULLS clause (issues.filters._order_by) or these would not match.
            models.Index(
                fields=["severity", "-updated_at"],
                name="issue_severity_updated",
                include=["project", "archived_at"],
            ),
            models.Index(
                fields=["status", "-updated_at"],
                name="issue_status_updated",
                include=["project", "archived_at"],
            ),
            # Latest deadline first (`sort=-due`, no deadline last) walks issue_res_due_desc,
            # `resolution_due_at DESC NULLS LAST`: created by migration 0006 on PostgreSQL
            # only (SQLite cannot index NULLS LAST), so it is not declared here.
            # The board (boards.selectors): each column's first cards come straight from an
            # index, in the board's order: open columns by SLA urgency, priority and age,
            # Fixed and Closed by the latest move.
            models.Index(
                fields=["project", "status", "resolution_due_at", "-priority", "created_at", "id"],
                name="issue_board_open_order",
                condition=Q(archived_at=None),
            ),
            models.Index(
                fields=["project", "status", "-updated_at", "-id"],
                name="issue_board_done_order",
                condition=Q(archived_at=None),
            ),
            models.Index(fields=["project", "-updated_at"], name="issue_project_updated"),
            # Live issues in id order (customfields' filters): the capped count of a list
            # filtered on a custom field is a merge of this with a value index led by the
            # issue (unique_custom_value_option / unique_custom_value), both index-only,
            # stopping at the cap; without it the merge read each issue's row to check it.
            models.Index(
                fields=["id"],
                include=["project"],
                name="issue_live_ids",
                condition=Q(archived_at=None),
            ),
            models.Index(
                fields=["priority", "-updated_at"],
                name="issue_priority_updated",
                include=["project", "archived_at"],
            ),
            models.Index(fields=["reporter", "-updated_at"], name="issue_reporter_updated"),
            models.Index(fields=["team"], name="issue_team"),
            models.Index(fields=["resolution_due_at"], name="issue_res_due"),
            models.Index(fields=["-created_at"], name="issue_created"),
            models.Index(
                fields=["at_risk_at"], name="issue_open_at_risk", condition=~Q(status="closed")
            ),
            models.Index(
                fields=["resolution_due_at"],
                name="issue_open_res_due",
                condition=~Q(status="closed"),
            ),
            models.Index(
                fields=["response_due_at"], name="issue_open_resp_due", condition=Q(status="new")
            ),
            # The SLA dashboard (reports): every figure about open issues (right now, ageing,
            # workload, by component) is one pass over the open issues, read from this index
            # alone: their SLA state, age, owner, component and the dashboard's filters.
            models.Index(
                fields=["status", "project"],
                name="issue_open_dashboard",
                condition=Q(archived_at=None, status__in=OPEN_STATUSES),
                include=[
                    "id",
                    "owner",
                    "severity",
                    "component",
                    "team",
                    "type",
                    "fix_version",
                    "sla_paused_at",
                    "resolution_due_at",
                    "at_risk_at",
                    "created_at",
                ],
            ),  # fmt: skip
            # Issues filed per week of the dashboard's period, per visible project.
            models.Index(
                fields=["project", "created_at"],
                name="issue_live_project_created",
                condition=Q(archived_at=None),
                include=["id"],
            ),
            # The few archived issues, per project: the dashboard leaves their status stays
            # out by id (without this, finding them read every issue's index entry).
            models.Index(
                fields=["project", "id"],
                name="issue_archived_ids",
                condition=Q(archived_at__isnull=False),
            ),
            # The dashboard's lessons learned: closed issues with lessons, newest first.
            models.Index(
                fields=["-updated_at", "-id"],
                name="issue_closed_lessons",
                condition=Q(status="closed", archived_at=None) & ~Q(lessons_learned=""),
                include=["project"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Status changes only through workflows.services.transition_issue, which sets the flag.
        loaded = getattr(self, "_loaded_status", None)
        if (
            loaded is not None
            and self.status != loaded
            and not getattr(self, "_transitioning", False)
        ):
            raise StatusChangeRefused("Change the status through the workflow, not by editing it.")
        super().save(*args, **kwargs)
        self._loaded_status = self.status

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("issue_detail", args=[self.key])

    @property
    def key(self) -> str:
        return f"{self.project.key}-{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def description_rendered(self) -> SafeString:
        return stored_html(self.description_html, self.description_html_version, self.description)

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Any, values: Any, *args: Any, **kwargs: Any
    ) -> Self:
        instance = super().from_db(db, field_names, values, *args, **kwargs)
        instance._loaded_status = instance.__dict__.get("status")  # type: ignore[assignment]  # None: deferred
        return instance


class AppendOnlyError(Exception):
    pass


class IssueEvent(models.Model):
    """One append-only record per change: the audit trail and the notifications outbox."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for system events (SLA sweep, intake).",
    )
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    field = models.CharField(max_length=40, blank=True)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Set when the notifications app has fanned this event out (outbox processed).
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["issue", "created_at"]),
            models.Index(
                fields=["created_at"], name="event_outbox_pending", condition=Q(notified_at=None)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.field} on issue {self.issue_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("update_fields") == ["notified_at"]:
            raise AppendOnlyError("Activity records are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Activity records are append-only.")


class Comment(models.Model):
    """A Markdown comment; `body_html` is the sanitised rendering, made once when it is posted."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="comments"
    )
    body = models.TextField()
    body_html = models.TextField(blank=True, editable=False)
    # issues.markdown.RENDERER_VERSION of body_html (0: made by something else, not trusted).
    body_html_version = models.PositiveSmallIntegerField(default=0, editable=False)
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["issue", "created_at"])]

    def __str__(self) -> str:
        return f"Comment {self.pk} on issue {self.issue_id}"

    @property
    def body_rendered(self) -> SafeString:
        return stored_html(self.body_html, self.body_html_version, self.body)


def attachment_path(instance: "Attachment", filename: str) -> str:
    # Never trust the uploaded name on disk: a random name keeping only a tame extension.
    suffix = PurePath(filename).suffix.lower()
    if not suffix[1:].isalnum() or len(suffix) > 10:
        suffix = ""
    return f"attachments/{instance.issue_id}/{uuid.uuid4().hex}{suffix}"


class Attachment(models.Model):
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="attachments")
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(max_length=200, help_text="The name as uploaded (display only).")
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.filename


class IssueLink(models.Model):
    source = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(max_length=16, choices=LinkKind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="unique_issue_link"),
            models.CheckConstraint(condition=~Q(source=models.F("target")), name="no_self_link"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} {self.target_id}"


class SavedFilter(models.Model):
    """A named list view (the query string of /issues/) kept per user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters"
    )
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="unique_saved_filter_name")
        ]

    def __str__(self) -> str:
        return self.name
