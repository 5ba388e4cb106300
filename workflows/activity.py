"""How the audit trail reads: an `IssueEvent` as the sentence and the "why" lines people see.

Events keep the labels of the moment they were written (names, status words, the transition's
field labels), so a renamed or deleted person, team or label still reads as it did. Events
written before labels were kept (raw ids, codes) are translated here as well as they can be:
a user id is looked up, a code becomes its label, an unknown code is shown tidied up.

Used by the issue page's timeline (`{% event_view event as view %}` in `workflow_tags`) and by
the status-change e-mails (`transition_reasons`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import SafeString

from issues.models import (
    INVERSE_LINK_LABELS,
    EventKind,
    Issue,
    IssueEvent,
    IssueType,
    LinkKind,
    Priority,
    Resolution,
    Severity,
    Status,
)
from issues.selectors import HIDDEN_ISSUE

from .models import HoldReason, RootCause
from .transitions import BY_NAME, SYSTEM_BY_NAME

# The transition fields that explain a step, in the order they are shown, with the label used
# when the event (written before labels were kept) does not carry one.
REASON_LABELS: dict[str, str] = {
    "fix_summary": "Fix summary",
    "failure": "What failed",
    "resolution": "Resolution",
    "duplicate_of": "Duplicate of",
    "resolution_summary": "Resolution summary",
    "root_cause": "Root cause",
    "lessons_learned": "Lessons learned",
    "reason": "Reason",
    "reopen_reason": "Reopen reason",
    "why": "Why",
}

FIELD_LABELS = {
    "affected_version": "affected version",
    "fix_version": "fix version",
    "resolution_due_at": "resolution deadline",
    "response_due_at": "response deadline",
}


def _tidy(code: str) -> str:
    """An unknown code as words ("third_party" -> "Third party")."""
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _choice_label(choices: Any, value: object) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return _tidy(str(value))


def status_label(value: str) -> str:
    return _choice_label(Status, value) if value else ""


def reason_value(name: str, value: object) -> str:
    """A transition field's value as people read it (codes become their labels)."""
    if name == "resolution":
        return _choice_label(Resolution, value)
    if name == "root_cause":
        return _choice_label(RootCause, value) if value else ""
    return str(value)


def transition_reasons(transition_name: str, cleaned: dict) -> list[list[str]]:
    """[label, text] pairs for a transition's filled-in fields, written into its event so the
    activity entry shows the why with the labels of the form it was typed into."""
    transition = BY_NAME.get(transition_name) or SYSTEM_BY_NAME.get(transition_name)
    out: list[list[str]] = []
    for name in REASON_LABELS:
        value = cleaned.get(name)
        if name == "duplicate_of" and value is not None:
            value = getattr(value, "key", value)
        if not value:
            continue
        spec = transition.field(name) if transition is not None else None
        label = REASON_LABELS[name]
        if spec is not None and name not in ("resolution", "duplicate_of"):
            # "Note" on Close without fix, "Which rule chose whom" on auto-assign, …
            label = spec.label
        if transition_name == "auto_assign" and name == "reason":
            label = "Why"
        out.append([label, reason_value(name, value)])
    return out


def _legacy_reasons(data: dict) -> list[list[str]]:
    reasons = [
        [label, reason_value(name, data[name])]
        for name, label in REASON_LABELS.items()
        if data.get(name) and name != "why"
    ]
    if data.get("why") and data["why"] != data.get("reason"):
        reasons.append(["Why", str(data["why"])])
    return reasons


def _user_label(value: str) -> str:
    """An owner as written: a label since labels were kept; a bare id in older events."""
    if not value or not value.isdigit():
        return value
    user = get_user_model().objects.filter(pk=int(value)).first()
    return str(user) if user is not None else f"a deleted user (#{value})"


def _date_label(value: str) -> str:
    moment: datetime | None = parse_datetime(value) if value else None
    if moment is None:
        return value
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def field_value_label(field_name: str, value: str) -> str:
    """A CHANGED/SLA event's old or new value as a label (older events stored some raw)."""
    if not value:
        return ""
    if field_name == "owner":
        return _user_label(value)
    if field_name == "priority" and value.isdigit():
        return _choice_label(Priority, int(value))
    if field_name == "severity" and value.isdigit():
        return _choice_label(Severity, int(value))
    if field_name == "type" and value in IssueType.values:
        return str(IssueType(value).label)
    if field_name == "status":
        return status_label(value)
    if field_name.endswith("_due_at"):
        return _date_label(value)
    return value


@dataclass
class EventView:
    actor: str
    sentence: SafeString
    reasons: list[list[str]] = field(default_factory=list)


def _plain(text: str) -> SafeString:
    return format_html("{}", text)


def _quoted(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _changed(event: IssueEvent, data: dict) -> tuple[SafeString, list[list[str]]]:
    # A custom field's name is kept in the record (`label`), as it read when changed.
    name = data.get("label") or FIELD_LABELS.get(event.field, event.field)
    old = _quoted(field_value_label(event.field, event.old_value))
    new = _quoted(field_value_label(event.field, event.new_value))
    reasons = [["Reason", data["reason"]]] if data.get("reason") else []
    if event.field == "playbook":
        action = data.get("action")
        if action == "attached":
            return format_html("attached the playbook <strong>{}</strong>", new), reasons
        if action == "unticked":
            return format_html("unticked “{}” on the playbook", old), reasons
        return format_html("ticked “{}” on the playbook", new), reasons
    if event.field == "owner" and not old:
        return format_html("assigned it to <strong>{}</strong>", new), reasons
    if event.field == "owner" and not new:
        return format_html("unassigned it (was {})", old), reasons
    if old:
        sentence = format_html("changed <em>{}</em> from “{}” to “{}”", name, old, new or "nothing")
    else:
        sentence = format_html("changed <em>{}</em> to “{}”", name, new or "nothing")
    return sentence, reasons


def _transitioned(event: IssueEvent, data: dict) -> tuple[SafeString, list[list[str]]]:
    transition = BY_NAME.get(data.get("transition", "")) or SYSTEM_BY_NAME.get(
        data.get("transition", "")
    )
    sentence = format_html(
        "moved it from <strong>{}</strong> to <strong>{}</strong>{}",
        status_label(event.old_value),
        status_label(event.new_value),
        format_html(" ({})", transition.label) if transition is not None else "",
    )
    reasons = data.get("reasons")
    if not isinstance(reasons, list):
        reasons = _legacy_reasons(data)
    return sentence, [list(map(str, r)) for r in reasons if isinstance(r, list) and len(r) == 2]


def _sla(event: IssueEvent, data: dict) -> tuple[SafeString, list[list[str]]]:
    if event.field == "sla_hold" and data.get("action") == "hold":
        label = event.new_value or _choice_label(HoldReason, data.get("reason", ""))
        reasons = [["Hold reason", label]]
        if data.get("note"):
            reasons.append(["Note", str(data["note"])])
        return _plain("put the SLA clock on hold"), reasons
    if event.field == "sla_hold":
        was = event.old_value
        return format_html("took the SLA clock off hold{}", f" (was: {was})" if was else ""), []
    if event.field.endswith("_due_at"):
        reasons = [["Reason", str(data["reason"])]] if data.get("reason") else []
        if data.get("policy_version"):
            reasons.append(["Policy", f"version {data['policy_version']}"])
        old = field_value_label(event.field, event.old_value) or "none"
        new = field_value_label(event.field, event.new_value) or "none"
        name = FIELD_LABELS.get(event.field, event.field)
        return format_html("moved the {} from {} to {}", name, old, new), reasons
    detail = f": {event.new_value}" if event.new_value else ""
    return format_html("updated the SLA clock{}", detail), []


def _linked(event: IssueEvent, data: dict, removed: bool) -> SafeString:
    other = event.old_value if removed else event.new_value
    if other == HIDDEN_ISSUE:  # redacted for this viewer (issues.selectors.redact_hidden_issues)
        return format_html("{} {}", "removed the link to" if removed else "linked", HIDDEN_ISSUE)
    try:
        kind = LinkKind(event.field)
    except ValueError:
        relation = _tidy(event.field).lower()
    else:
        # Recorded on both issues: the source reads the kind, the target its inverse.
        is_source = data.get("target") == other or "target" not in data
        relation = str(kind.label) if is_source else INVERSE_LINK_LABELS[kind]
    verb = "removed the link" if removed else "linked it"
    return format_html("{}: {} <strong>{}</strong>", verb, relation, other)


def describe_event(event: IssueEvent) -> EventView:
    """The sentence (after the actor's name) and the why lines of one activity entry."""
    data = event.data if isinstance(event.data, dict) else {}
    actor = str(event.actor) if event.actor_id else "Resolve"
    reasons: list[list[str]] = []
    kind = event.kind
    if kind == EventKind.CREATED:
        # e.g. "by e-mail from ann@example.com" (mail-in records where an issue came from).
        source = str(data.get("source") or "")[:200]
        sentence = _plain(f"filed the issue by {source}" if source else "filed the issue")
    elif kind == EventKind.CHANGED:
        sentence, reasons = _changed(event, data)
    elif kind == EventKind.TRANSITIONED:
        sentence, reasons = _transitioned(event, data)
    elif kind == EventKind.SLA:
        sentence, reasons = _sla(event, data)
    elif kind == EventKind.ATTACHED:
        sentence = format_html("attached {}", event.new_value)
    elif kind in (EventKind.LINKED, EventKind.UNLINKED):
        sentence = _linked(event, data, removed=kind == EventKind.UNLINKED)
    elif kind == EventKind.WATCHED:
        if data.get("automatic"):
            sentence = format_html("added {} as a watcher (automatic)", event.new_value)
        else:
            sentence = _plain("started watching")
    elif kind == EventKind.UNWATCHED:
        sentence = _plain("stopped watching")
    else:
        label = _choice_label(EventKind, kind).lower()
        detail = f": {event.new_value}" if event.new_value else ""
        sentence = format_html("{}{}", label, detail)
    return EventView(actor=actor, sentence=sentence, reasons=reasons)


# --- the story so far: why an issue is where it is --------------------------------------------
@dataclass
class ClosureRecord:
    """What the top of a Fixed or Closed issue says: how it ended and who decided."""

    status: str
    resolution: str = ""
    summary: str = ""
    root_cause: str = ""
    lessons_learned: str = ""
    closed_by: str = ""
    closed_at: datetime | None = None
    fix_summary: str = ""
    fixed_by: str = ""
    verified_by: str = ""
    verified_at: datetime | None = None


def _last_step(events: list[IssueEvent], *names: str) -> IssueEvent | None:
    return next((e for e in events if (e.data or {}).get("transition") in names), None)


def closure_record(issue: Issue) -> ClosureRecord | None:
    """The closure of a Fixed or Closed issue (None while it is open): resolution, root cause,
    lessons learned and who closed it, from the issue and its latest transition records; on
    a Fixed issue the fix summary and who verified it."""
    if issue.status not in (Status.FIXED, Status.CLOSED):
        return None
    events = list(
        IssueEvent.objects.filter(issue=issue, kind=EventKind.TRANSITIONED)
        .select_related("actor")
        .order_by("-created_at", "-id")[:12]
    )
    # Only this cycle's steps: stop at the latest reopen.
    reopened = next(
        (
            i
            for i, e in enumerate(events)
            if (e.data or {}).get("transition") in ("reopen", "regress")
        ),
        len(events),
    )
    events = events[:reopened]
    record = ClosureRecord(status=str(Status(issue.status).label))
    submitted = _last_step(events, "submit")
    if submitted is not None:
        record.fix_summary = str((submitted.data or {}).get("fix_summary", ""))
        record.fixed_by = str(submitted.actor) if submitted.actor_id else "Resolve"
    verified = _last_step(events, "verify")
    if verified is not None:
        record.verified_by = str(verified.actor) if verified.actor_id else "Resolve"
        record.verified_at = verified.created_at
    if issue.status == Status.CLOSED:
        closed = _last_step(events, "close", "dismiss")
        record.resolution = issue.get_resolution_display() if issue.resolution else ""
        record.summary = issue.resolution_summary
        record.root_cause = reason_value("root_cause", issue.root_cause)
        record.lessons_learned = issue.lessons_learned
        if closed is not None:
            record.closed_by = str(closed.actor) if closed.actor_id else "Resolve"
            record.closed_at = closed.created_at
    return record


@dataclass
class HoldRecord:
    reason: str
    note: str
    by: str
    since: datetime


def current_hold(issue: Issue) -> HoldRecord | None:
    """Why the clock of a held issue is on hold (reason, note, who, since when); None when
    it is not on hold. The latest hold/release record decides."""
    if issue.sla_paused_at is None or not issue.is_open:
        return None
    last = (
        IssueEvent.objects.filter(issue=issue, kind=EventKind.SLA, field="sla_hold")
        .select_related("actor")
        .order_by("-created_at", "-id")
        .first()
    )
    data = (last.data or {}) if last is not None else {}
    if last is None or data.get("action") != "hold":
        return None
    return HoldRecord(
        reason=last.new_value or _choice_label(HoldReason, data.get("reason", "")),
        note=str(data.get("note", "")),
        by=str(last.actor) if last.actor_id else "Resolve",
        since=last.created_at,
    )


def closure_rows(issue: Issue) -> list[list[str]]:
    """[label, text] rows of a Closed issue's closure (API, CSV, e-mails); [] otherwise."""
    if issue.status != Status.CLOSED:
        return []
    record = closure_record(issue)
    rows = [
        ["Resolution", issue.get_resolution_display() if issue.resolution else ""],
        ["Resolution summary", issue.resolution_summary],
        ["Root cause", reason_value("root_cause", issue.root_cause)],
        ["Lessons learned", issue.lessons_learned],
        ["Closed by", record.closed_by if record else ""],
    ]
    return [row for row in rows if row[1]]
