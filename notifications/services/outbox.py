"""The outbox: fan out the issue events the other apps write to their recipients' inboxes."""

from collections import defaultdict
from typing import Any

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from issues.models import EventKind, Issue, IssueEvent, Status
from projects.selectors import visible_pairs
from workflows.activity import describe_event

from .. import recipients as rcpt
from ..models import (
    EmailStatus,
    Kind,
    Mode,
    Notification,
)
from ..signals import outbox_claimed
from .queueing import queue_emails
from .rows import _email_status, _insert, _users_with_email

# --- the outbox: events written by the other apps -------------------------------------------------


def _comment_excerpt(comment_id: object) -> str:
    try:
        # The comments model belongs to the issues app; looked up by name, it may not exist yet.
        model: Any = apps.get_model("issues", "Comment")  # type: ignore[misc]
    except LookupError:
        return ""
    comment = model.objects.filter(pk=comment_id).first() if comment_id else None
    body = getattr(comment, "body", "") if comment is not None else ""
    return (body[:280] + "…") if len(body) > 280 else body


def _status_label(value: str) -> str:
    try:
        return str(Status(value).label)
    except ValueError:
        return value


def _planned_for_event(
    event: IssueEvent, watchers: dict[int, set[int]]
) -> list[tuple[int, str, str, dict]]:
    """(recipient id, kind, summary, data) for one event, one row per person at most."""
    issue = event.issue
    key = f"{issue.project.key}-{issue.number}"
    who = str(event.actor) if event.actor_id else "Resolve"
    planned: dict[int, tuple[str, str, dict]] = {}
    data = event.data or {}
    if event.kind == EventKind.TRANSITIONED:
        old, new = _status_label(event.old_value), _status_label(event.new_value)
        # The why of the step (fix summary, what failed, resolution …) travels to the e-mail.
        step = {
            "old": event.old_value,
            "new": event.new_value,
            "reasons": describe_event(event).reasons,
        }
        for uid in watchers.get(issue.id, set()):
            planned[uid] = (
                Kind.STATUS_CHANGED,
                f"{who} moved {key} from {old} to {new}: {issue.title}",
                step,
            )
        owner_id = data.get("owner_id")
        if owner_id:
            planned[int(owner_id)] = (
                Kind.ASSIGNED,
                f"{who} assigned {key} to you ({new}): {issue.title}",
                step,
            )
    elif event.kind == EventKind.CHANGED and event.field == "owner":
        # An owner set by a transition is announced by its TRANSITIONED record.
        owner_id = None if data.get("with_transition") else data.get("owner_id")
        if owner_id:
            planned[int(owner_id)] = (
                Kind.ASSIGNED,
                f"{who} assigned {key} to you: {issue.title}",
                {},
            )
    elif event.kind == EventKind.COMMENTED:
        excerpt = _comment_excerpt(data.get("comment_id"))
        extra = {"comment_id": data.get("comment_id"), "excerpt": excerpt}
        for uid in watchers.get(issue.id, set()):
            planned[uid] = (Kind.COMMENTED, f"{who} commented on {key}: {issue.title}", extra)
        for uid in data.get("mentions") or []:
            planned[int(uid)] = (
                Kind.MENTIONED,
                f"{who} mentioned you on {key}: {issue.title}",
                extra,
            )
    # The person who acted is never told about their own action.
    planned.pop(event.actor_id or 0, None)
    return [(uid, kind, summary[:300], d) for uid, (kind, summary, d) in planned.items()]


_CONSUMED = (EventKind.TRANSITIONED, EventKind.CHANGED, EventKind.COMMENTED)


def _process_outbox_batch(batch_size: int) -> int:
    with transaction.atomic():
        events = list(
            IssueEvent.objects.filter(notified_at__isnull=True)
            .select_related("issue__project", "actor")
            .order_by("created_at", "id")
            .select_for_update(skip_locked=True, of=("self",))[:batch_size]
        )
        if not events:
            return 0
        outbox_claimed.send(sender=IssueEvent, events=events)
        relevant = [e for e in events if e.kind in _CONSUMED]
        watchers: dict[int, set[int]] = defaultdict(set)
        through = Issue.watchers.through
        for issue_id, user_id in through.objects.filter(
            issue_id__in={e.issue_id for e in relevant}
        ).values_list("issue_id", "user_id"):
            watchers[issue_id].add(user_id)
        plans = [(e, row) for e in relevant for row in _planned_for_event(e, watchers)]
        visible = visible_pairs((row[0], e.issue.project_id) for e, row in plans)
        modes = rcpt.modes_for({row[0] for _, row in plans}, {row[1] for _, row in plans})
        with_email = _users_with_email({row[0] for _, row in plans})
        notes = []
        for e, (uid, kind, summary, data) in plans:
            mode = modes[(uid, kind)]
            if (uid, e.issue.project_id) not in visible or mode == Mode.OFF:
                continue
            notes.append(
                Notification(
                    recipient_id=uid,
                    kind=kind,
                    mode=mode,
                    issue_id=e.issue_id,
                    actor_id=e.actor_id,
                    event_id=e.id,
                    summary=summary,
                    data=data,
                    email_status=_email_status(mode, uid in with_email),
                )
            )
        _insert(notes)
        # Marking the outbox row processed is the one update IssueEvent allows (notified_at).
        IssueEvent.objects.filter(id__in=[e.id for e in events]).update(notified_at=timezone.now())
        queue_emails(
            list(
                Notification.objects.filter(
                    event_id__in=[e.id for e in relevant], email_status=EmailStatus.PENDING
                ).values_list("id", flat=True)
            )
        )
        return len(events)


def process_outbox(*, batch_size: int = 200) -> int:
    """Fan out unprocessed events (assignments, status changes, comments, mentions).

    Each batch claims its events with SKIP LOCKED, creates the notifications (unique per
    person and event) and marks the events processed in one transaction.
    """
    total = 0
    while (n := _process_outbox_batch(batch_size)) > 0:
        total += n
        if n < batch_size:
            break
    return total
