"""The fan-out: one delivery per subscription for each outbox event it asked for, created in
the transaction that claims the events."""

from collections import defaultdict
from collections.abc import Sequence

from django.contrib.auth import get_user_model
from django.utils import timezone

from issues.models import Comment, IssueEvent
from notifications.services import bulk_insert

from .. import payloads
from ..models import (
    Delivery,
    EventType,
    Subscription,
    SubscriptionState,
)
from .queueing import _retry_window, kick


def create_deliveries_for_events(events: Sequence[IssueEvent]) -> int:
    """Create the deliveries of a claimed outbox batch (inside the claim's transaction).

    One row per (event, subscription) whose project matches and which subscribed to one of
    the event's types (the most specific). Bodies are rendered now and never again. Active
    and disabled endpoints get rows (a disabled one keeps them for when it is re-enabled);
    paused ones do not. The senders are queued after the commit.
    """
    typed = [(e, payloads.candidate_types(e)) for e in events]
    typed = [(e, types) for e, types in typed if types]
    if not typed:
        return 0
    subs_of: dict[int, list[Subscription]] = defaultdict(list)
    for sub in Subscription.objects.filter(
        project_id__in={e.issue.project_id for e, _ in typed},
        state__in=[SubscriptionState.ACTIVE, SubscriptionState.DISABLED],
    ).only("id", "project_id", "event_types", "format", "state"):
        subs_of[sub.project_id].append(sub)
    if not subs_of:
        return 0
    typed = [(e, types) for e, types in typed if e.issue.project_id in subs_of]
    owners = get_user_model().objects.in_bulk(
        {e.issue.owner_id for e, _ in typed if e.issue.owner_id}
    )
    comment_ids = {
        e.data.get("comment_id") for e, types in typed if EventType.COMMENTED in types and e.data
    }
    excerpts = {
        pk: (body[:280] + "…") if len(body) > 280 else body
        for pk, body in Comment.objects.filter(id__in={c for c in comment_ids if c}).values_list(
            "id", "body"
        )
    }
    now = timezone.now()
    window = _retry_window()
    rows: list[Delivery] = []
    kicked: set[int] = set()
    for event, types in typed:
        issue = event.issue
        built: dict[str, dict] = {}
        for sub in subs_of[issue.project_id]:
            type_ = next((t for t in types if t in sub.event_types), None)
            if type_ is None:
                continue
            if type_ not in built:
                built[type_] = payloads.issue_data(
                    issue,
                    event,
                    type_,
                    owner=owners.get(issue.owner_id) if issue.owner_id else None,
                    comment_excerpt=excerpts.get(
                        int((event.data or {}).get("comment_id") or 0), ""
                    ),
                    now=now,
                )
            rows.append(
                Delivery(
                    subscription_id=sub.pk,
                    event_id=event.pk,
                    issue_id=issue.pk,
                    type=type_,
                    body=payloads.render_body(sub.format, type_, built[type_], at=event.created_at),
                    next_attempt_at=now,
                    give_up_at=now + window,
                    event_at=event.created_at,
                    created_at=now,
                )
            )
            if sub.state == SubscriptionState.ACTIVE:
                kicked.add(sub.pk)
    bulk_insert(rows, ignore_conflicts=True)
    kick(sorted(kicked))
    return len(rows)
