"""The issue record's fixed vocabularies: the lifecycle's statuses, types, priorities,
severities, resolutions, the kinds of audit events and of links. `issues.models` re-exports
them (models, migrations and callers import them from there)."""

from django.db import models


class Status(models.TextChoices):
    """The lifecycle. Only workflows.services moves an issue between these."""

    NEW = "new", "New"
    ASSIGNED = "assigned", "Assigned"
    REVISE = "revise", "Revise"
    RETEST = "retest", "Retest"
    FIXED = "fixed", "Fixed"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.REVISE, Status.RETEST)


class IssueType(models.TextChoices):
    BUG = "bug", "Bug"
    PERFORMANCE = "performance", "Performance"
    UI_UX = "ui_ux", "UI/UX"
    COMPATIBILITY = "compatibility", "Compatibility"
    COMPLIANCE = "compliance", "Compliance"
    SEO = "seo", "SEO"
    SECURITY = "security", "Security"
    TASK = "task", "Task"


class Priority(models.IntegerChoices):
    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"


class Severity(models.IntegerChoices):
    TRIVIAL = 1, "Trivial"
    MINOR = 2, "Minor"
    MAJOR = 3, "Major"
    CRITICAL = 4, "Critical"


class Resolution(models.TextChoices):
    FIXED = "fixed", "Fixed"
    DUPLICATE = "duplicate", "Duplicate"
    WONT_FIX = "wont_fix", "Won't fix"
    CANNOT_REPRODUCE = "cannot_reproduce", "Cannot reproduce"
    INVALID = "invalid", "Invalid"


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    CHANGED = "changed", "Field changed"
    TRANSITIONED = "transitioned", "Status changed"
    COMMENTED = "commented", "Commented"
    ATTACHED = "attached", "Attachment added"
    LINKED = "linked", "Link added"
    UNLINKED = "unlinked", "Link removed"
    WATCHED = "watched", "Watcher added"
    UNWATCHED = "unwatched", "Watcher removed"
    SLA = "sla", "SLA clock"
    SLA_FLAGGED = "sla_flagged", "SLA threshold crossed"
    ALERT_SENT = "alert_sent", "Alert sent"


class LinkKind(models.TextChoices):
    """Stored from the source's point of view; the target shows the inverse."""

    RELATES = "relates", "relates to"
    BLOCKS = "blocks", "blocks"
    DUPLICATES = "duplicates", "duplicates"


INVERSE_LINK_LABELS = {
    LinkKind.RELATES: "relates to",
    LinkKind.BLOCKS: "is blocked by",
    LinkKind.DUPLICATES: "is duplicated by",
}
