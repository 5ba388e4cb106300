"""The issues router and its schemas: what the API answers and accepts."""

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Router, Schema

from issues.limits import (
    AFFECTED_VERSION_MAX_CHARS,
    ENVIRONMENT_MAX_CHARS,
    TEXT_MAX_CHARS,
    TITLE_MAX_CHARS,
)
from issues.models import IssueType, Priority, Severity

from ..auth import PersonalTokenAuth

router = Router(tags=["issues"], auth=PersonalTokenAuth())

IssueTypeName = Literal[tuple(IssueType.values)]  # type: ignore[valid-type]


class SlaOut(Schema):
    state: str
    label: str
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    at_risk_at: datetime | None
    paused_since: datetime | None


class CommentOut(Schema):
    id: int
    author: str
    body: str
    body_html: str = Field(..., description="The sanitised Markdown rendering the page shows.")
    created_at: datetime


class SlaSummaryOut(Schema):
    """The issue page's SLA box: the current cycle of the clock."""

    cycle: int
    outcome: str = Field(..., description="met / missed once the cycle stopped, else empty")
    target_minutes: int | None
    business_hours: bool
    due_at: datetime | None
    remaining_seconds: int | None = Field(..., description="Time left on the clock")
    overdue_seconds: int | None = Field(..., description="Wall-clock time since the deadline")
    paused_reason: str
    on_hold: bool
    responded_at: datetime | None
    policy_version: int | None
    text: str


class TransitionFieldOut(Schema):
    name: str
    label: str
    need: str


class TransitionOut(Schema):
    name: str
    label: str
    to: str
    fields: list[TransitionFieldOut]


class IssueSummaryOut(Schema):
    """One row of the issue list."""

    key: str
    project: str
    title: str
    type: str
    status: str
    priority: int
    severity: int
    owner: str | None
    reporter: str
    team: str | None
    component: str | None
    affected_version: str | None
    fix_version: str | None
    labels: list[str]
    sla_state: str
    resolution_due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    url: str
    custom_fields: dict[str, Any] = Field(
        ...,
        description="The project's custom fields of the issue's type, keyed by slug: text, "
        "number, ISO date, choice label, list of labels (multiple choice), username, URL, or "
        "true/false; null when empty.",
    )


class IssuePageOut(Schema):
    count: int = Field(..., description="Matching issues, counted up to 10,000")
    count_capped: bool = Field(..., description="True when more than 10,000 match")
    page: int
    per_page: int
    pages: int
    next_page: int | None
    results: list[IssueSummaryOut]


class ClosureOut(Schema):
    resolution: str = Field(..., description="fixed, duplicate, wont_fix, … (empty while open)")
    resolution_label: str
    resolution_summary: str
    root_cause: str
    root_cause_label: str
    lessons_learned: str
    closed_by: str | None = Field(None, description="Username (issue detail only)")
    closed_at: datetime | None = Field(None, description="Issue detail only")


class IssueOut(Schema):
    key: str
    project: str
    title: str
    description: str
    type: str
    status: str
    priority: int
    priority_label: str
    severity: int
    severity_label: str
    reporter: str
    owner: str | None
    team: str | None
    labels: list[str]
    environment: str
    component: str | None
    affected_version: str | None
    fix_version: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    sla: SlaOut
    closure: ClosureOut
    url: str
    custom_fields: dict[str, Any] = Field(
        ...,
        description="The project's custom fields of the issue's type, keyed by slug: text, "
        "number, ISO date, choice label, list of labels (multiple choice), username, URL, or "
        "true/false; null when empty.",
    )


class IssueDetailOut(IssueOut):
    sla_summary: SlaSummaryOut
    comments: list[CommentOut]
    available_transitions: list[TransitionOut] = Field(
        ..., description="What this token's user may do now (the page's buttons)."
    )


class IssueIn(Schema):
    project: str = Field(..., min_length=1, max_length=10, description="Project key, e.g. WEB.")
    title: str = Field(..., min_length=1, max_length=TITLE_MAX_CHARS)
    description: str = Field("", max_length=TEXT_MAX_CHARS)
    type: IssueTypeName = "bug"  # type: ignore[valid-type]
    priority: int = Field(int(Priority.MEDIUM), ge=1, le=3, description="1 low … 3 high")
    severity: int = Field(int(Severity.MINOR), ge=1, le=4, description="1 trivial … 4 critical")
    environment: str = Field("", max_length=ENVIRONMENT_MAX_CHARS)
    component: str | None = Field(None, max_length=80, description="A component's name")
    affected_version: str | None = Field(
        None, max_length=AFFECTED_VERSION_MAX_CHARS, description="A version's name"
    )
    fix_version: str | None = Field(None, max_length=60, description="A version's name")
    custom_fields: dict[str, Any] = Field(
        default_factory=dict,
        description="Custom values keyed by the field's slug, as `custom_fields` of an issue "
        "reads them (a choice by its label or its id): "
        "a slug that is no field of the project and type, a wrong type, an unknown choice or "
        "a user who is no member answers 400 naming `custom_fields.<slug>`; nothing is filed.",
    )


class CustomFieldsIn(Schema):
    custom_fields: dict[str, Any] = Field(
        ...,
        description="Only the slugs given change; null (or [] / false) empties a field.",
    )
