"""The daily SLA digest of each manager, at the digest hour of their own time zone."""

from collections import defaultdict
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.timezones import zone_named
from issues.models import OPEN_STATUSES, Issue
from projects.models import Membership, Role
from workflows.selectors import SlaState, filter_sla_state

from .. import recipients as rcpt
from ..models import (
    EmailStatus,
    Kind,
    Mode,
    Notification,
)
from .queueing import queue_emails
from .rows import _email_status, _insert, _users_with_email

# --- digests --------------------------------------------------------------------------------------


def create_daily_digests(*, now: datetime | None = None) -> int:
    """Create today's SLA digest for each manager whose local time is the digest hour.

    Unique per manager and local date, so the 15-minute beat entry creates it once.
    """

    now = now or timezone.now()
    rows = (
        Membership.objects.filter(
            role=Role.MANAGER, user__is_active=True, project__archived_at__isnull=True
        )
        .values_list("user_id", "user__time_zone", "project_id")
        .order_by("user_id")
    )
    projects_of: dict[int, list[int]] = defaultdict(list)
    zone_of: dict[int, str] = {}
    for uid, tz, pid in rows:
        projects_of[uid].append(pid)
        zone_of[uid] = tz
    due: dict[int, date] = {}
    for uid, tz in zone_of.items():
        local = now.astimezone(zone_named(tz))
        if local.hour == settings.SLA_DIGEST_HOUR:
            due[uid] = local.date()
    if not due:
        return 0
    already = set(
        Notification.objects.filter(
            kind=Kind.DAILY_DIGEST, recipient_id__in=due.keys(), digest_date__in=set(due.values())
        ).values_list("recipient_id", "digest_date")
    )
    modes = rcpt.modes_for(due.keys(), {Kind.DAILY_DIGEST})
    with_email = _users_with_email(due.keys())
    open_issues = Issue.objects.filter(status__in=OPEN_STATUSES, archived_at__isnull=True)
    notes = []
    for uid, day in due.items():
        mode = modes[(uid, Kind.DAILY_DIGEST)]
        if (uid, day) in already or mode == Mode.OFF:
            continue
        mine = open_issues.filter(project_id__in=projects_of[uid])
        at_risk = list(filter_sla_state(mine, SlaState.AT_RISK, now).values_list("id", flat=True))
        breached = list(filter_sla_state(mine, SlaState.BREACHED, now).values_list("id", flat=True))
        if not at_risk and not breached:
            continue
        notes.append(
            Notification(
                recipient_id=uid,
                kind=Kind.DAILY_DIGEST,
                mode=mode,
                digest_date=day,
                summary=f"Daily SLA digest for {day:%d %b}: {len(at_risk)} at risk, "
                f"{len(breached)} breached",
                data={"at_risk": at_risk, "breached": breached},
                email_status=_email_status(mode, uid in with_email),
            )
        )
    with transaction.atomic():
        _insert(notes)
        queue_emails(
            list(
                Notification.objects.filter(
                    kind=Kind.DAILY_DIGEST,
                    recipient_id__in=due.keys(),
                    digest_date__in=set(due.values()),
                    email_status=EmailStatus.PENDING,
                ).values_list("id", flat=True)
            )
        )
    return len(notes)
