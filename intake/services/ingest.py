"""Ingesting an event: drop a duplicate, upsert its group, store the occurrence and the day's
count, in one transaction (raw SQL on PostgreSQL: the hot path)."""

import json
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.actors import Actor
from issues.models import Status
from projects.models import Project

from ..hotpath import fetchone
from ..models import (
    EventGroup,
    IntakeSettings,
    IntakeToken,
    Occurrence,
)
from ..payloads import NormalizedEvent
from .filing import _route_to_issue
from .tokens import IntakeError, get_intake_settings


@dataclass(frozen=True)
class IngestResult:
    group_id: int
    fingerprint: str
    count: int
    issue_key: str | None
    created_issue: bool
    duplicate: bool
    regression: str = ""

    def as_dict(self) -> dict:
        return {
            "group_id": self.group_id,
            "fingerprint": self.fingerprint,
            "count": self.count,
            "issue": self.issue_key,
            "created_issue": self.created_issue,
            "duplicate": self.duplicate,
            "regression": self.regression or None,
        }


def _duplicate_result(project: Project, event_id: str) -> IngestResult | None:
    occurrence = (
        Occurrence.objects.filter(project=project, event_id=event_id)
        .select_related("group__issue__project")
        .first()
    )
    if occurrence is None:
        return None
    group = occurrence.group
    return IngestResult(
        group_id=group.pk,
        fingerprint=group.fingerprint,
        count=group.count,
        issue_key=group.issue.key if group.issue else None,
        created_issue=False,
        duplicate=True,
    )


def ingest_event(
    project: Project,
    *,
    event: NormalizedEvent,
    reporter: Actor,
    token: IntakeToken | None = None,
    intake_settings: IntakeSettings | None = None,
    now: datetime | None = None,
    savepoint: bool = True,
) -> IngestResult:
    """Record one event (see the module docstring for the steps).

    Inside a caller's transaction the repeat statement gets a savepoint, so that a refused
    event does not break the caller's transaction; `savepoint=False` is for a caller that
    rolls back and redoes its whole batch when an event fails (SDK processing)."""
    now = now or timezone.now()
    cfg = intake_settings or get_intake_settings(project)
    created_issue, regression = False, ""
    try:
        if connection.vendor == "postgresql":
            row = _record_open_repeat(project, event, token=token, now=now, savepoint=savepoint)
            if row is not None:
                group_id, count, issue_number = row
                return IngestResult(
                    group_id=group_id,
                    fingerprint=event.fingerprint_hash,
                    count=count,
                    issue_key=f"{project.key}-{issue_number}",
                    created_issue=False,
                    duplicate=False,
                )
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # Group (created or bumped), occurrence and day count in one upsert.
                group_id, count, issue_id, issue_status, issue_number = _record_upsert(
                    project, event, token=token, now=now
                )
                new_group = count == 1
            else:
                group_id, count, issue_id, issue_status, issue_number, new_group = _record_sqlite(
                    project, event, token=token, now=now
                )
            if issue_id is not None and issue_status not in (Status.FIXED, Status.CLOSED):
                issue_key: str | None = f"{project.key}-{issue_number}"
            else:
                # A new group, below the threshold, or a regression: the rare, slower path.
                if new_group:  # just inserted with these values: nothing to read back
                    group = EventGroup(
                        pk=group_id, project=project, **_new_group_fields(event, now)
                    )
                    group._state.adding, group._state.db = False, connection.alias
                else:
                    group = EventGroup.objects.select_related("issue__project").get(pk=group_id)
                    group.project = project
                created_issue, regression = _route_to_issue(
                    group, cfg, event=event, reporter=reporter, now=now
                )
                if created_issue or regression:
                    group.save(update_fields=["issue"])
                issue_key = group.issue.key if group.issue else None
    except IntegrityError:
        # The same client event id was recorded before (or by a concurrent request): the
        # unique constraint refused this one and the whole transaction rolled back.
        seen = _duplicate_result(project, event.event_id) if event.event_id else None
        if seen is None:
            raise
        return seen
    return IngestResult(
        group_id=group_id,
        fingerprint=event.fingerprint_hash,
        count=count,
        issue_key=issue_key,
        created_issue=created_issue,
        duplicate=False,
        regression=regression,
    )


def _new_group_fields(event: NormalizedEvent, now: datetime) -> dict:
    """The columns of a group created by its first event."""
    return {
        "fingerprint": event.fingerprint_hash,
        "fingerprint_text": event.fingerprint_text[:500],
        "source": event.source,
        "title": event.title[:200],
        "level": event.level,
        "component": event.component,
        "count": 1,
        "first_seen": now,
        "last_seen": now,
        "last_environment": event.environment,
        "last_release": event.release,
    }


def _record_sqlite(
    project: Project, event: NormalizedEvent, *, token: IntakeToken | None, now: datetime
) -> tuple:
    """The portable path (SQLite): bump or create the group, then record the occurrence and
    the day. Returns (group id, count, issue id, issue status, issue number, new group)."""
    bumped = _bump_group(project, event, now)
    new_group = False
    if bumped is None:
        # First sight of the fingerprint (or a creation race we lost: get_or_create waits
        # for the winner's row, which we then bump like any repeat).
        fields = _new_group_fields(event, now)
        fingerprint = fields.pop("fingerprint")
        group, new_group = EventGroup.objects.get_or_create(
            project=project, fingerprint=fingerprint, defaults=fields
        )
        bumped = (group.pk, 1, None, None, None) if new_group else _bump_group(project, event, now)
        if bumped is None:  # pragma: no cover - the row exists by now
            raise IntakeError("The event group vanished.")
    _insert_occurrence(bumped[0], project, event, token=token, now=now)
    _bump_daily_count(bumped[0], now.date())
    return (*bumped, new_group)


# A repeat of a known fingerprint in one statement: count, last seen, and what the issue
# is (open issues need nothing more). The UPDATE takes the row lock, so concurrent events
# of one group serialise here and the counts stay exact.
_BUMP_GROUP = (
    "UPDATE intake_eventgroup SET count = count + 1, last_seen = %s, level = %s, "
    "last_environment = %s, last_release = %s "
    "WHERE project_id = %s AND fingerprint = %s "
    "RETURNING id, count, issue_id, "
    "(SELECT status FROM issues_issue WHERE issues_issue.id = intake_eventgroup.issue_id), "
    "(SELECT number FROM issues_issue WHERE issues_issue.id = intake_eventgroup.issue_id)"
)


def _bump_params(project: Project, event: NormalizedEvent, now: datetime) -> list:
    """Parameters of the group bump both statements start with (SET …, then WHERE …)."""
    return [now, event.level, event.environment, event.release, project.pk, event.fingerprint_hash]


def _bump_group(project: Project, event: NormalizedEvent, now: datetime) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(_BUMP_GROUP, _bump_params(project, event, now))
        return cursor.fetchone()


# PostgreSQL: a repeat in ONE statement (bump the group, record the occurrence, count the
# day, read the issue); it records nothing when the group does not exist yet.
_REPEAT_GROUP = (
    "WITH g AS ("
    " UPDATE intake_eventgroup SET count = count + 1, last_seen = %s::timestamptz,"
    " level = %s, last_environment = %s, last_release = %s"
    " WHERE project_id = %s AND fingerprint = %s"
)
_REPEAT_REST = (
    " RETURNING id, count, issue_id"
    "), o AS ("
    ' INSERT INTO intake_occurrence ("group_id", "project_id", "token_id", "event_id",'
    ' "source", "received_at", "timestamp", "level", "message", "environment", "release",'
    ' "url", "tags", "extra")'
    " SELECT g.id, %s::bigint, %s::bigint, %s::varchar, %s::varchar, %s::timestamptz,"
    " %s::timestamptz, %s::varchar, %s::text, %s::varchar, %s::varchar, %s::varchar,"
    " %s::jsonb, %s::jsonb FROM g"
    "), d AS ("
    " INSERT INTO intake_dailycount (group_id, day, count) SELECT g.id, %s::date, 1 FROM g"
    " ON CONFLICT (group_id, day) DO UPDATE SET count = intake_dailycount.count + 1"
    ")"
)
# Any event, inside the transaction of the slower path: the group is inserted (count 1) or,
# when the fingerprint is known (or a concurrent first event won the race), bumped under its
# row lock like a repeat; returns (group id, count, issue id, issue status, issue number).
_RECORD_UPSERT = "".join(
    (
        "WITH g AS ("
        " INSERT INTO intake_eventgroup (project_id, fingerprint, fingerprint_text, source,"
        " title, level, component, issue_id, count, first_seen, last_seen, last_environment,"
        " last_release)"
        " VALUES (%s::bigint, %s::varchar, %s::varchar, %s::varchar, %s::varchar, %s::varchar,"
        " %s::varchar, NULL, 1, %s::timestamptz, %s::timestamptz, %s::varchar, %s::varchar)"
        " ON CONFLICT (project_id, fingerprint) DO UPDATE SET"
        " count = intake_eventgroup.count + 1, last_seen = EXCLUDED.last_seen,"
        " level = EXCLUDED.level, last_environment = EXCLUDED.last_environment,"
        " last_release = EXCLUDED.last_release",
        _REPEAT_REST,
        " SELECT g.id, g.count, g.issue_id, i.status, i.number"
        " FROM g LEFT JOIN issues_issue i ON i.id = g.issue_id",
    )
)
# The same, only for a group whose issue is open (the row lock on the group is taken by the
# UPDATE as before); returns (group id, count, issue number).
_RECORD_OPEN_REPEAT = "".join(
    (
        _REPEAT_GROUP,
        " AND EXISTS (SELECT 1 FROM issues_issue i WHERE i.id = intake_eventgroup.issue_id"
        " AND i.status NOT IN ('fixed', 'closed'))",
        _REPEAT_REST,
        " SELECT g.id, g.count, i.number FROM g JOIN issues_issue i ON i.id = g.issue_id",
    )
)


def _repeat_params(
    project: Project, event: NormalizedEvent, *, token: IntakeToken | None, now: datetime
) -> list:
    return [
        *_bump_params(project, event, now),
        *_occurrence_values(project, event, token=token, now=now),
        now.date(),
    ]


def _record_upsert(
    project: Project, event: NormalizedEvent, *, token: IntakeToken | None, now: datetime
) -> tuple:
    group = _new_group_fields(event, now)
    # An upsert with RETURNING always answers one row.
    return cast(
        tuple,
        fetchone(
            _RECORD_UPSERT,
            [
                project.pk,
                group["fingerprint"],
                group["fingerprint_text"],
                group["source"],
                group["title"],
                group["level"],
                group["component"],
                now,
                now,
                group["last_environment"],
                group["last_release"],
                *_occurrence_values(project, event, token=token, now=now),
                now.date(),
            ],
        ),
    )


def _record_open_repeat(
    project: Project,
    event: NormalizedEvent,
    *,
    token: IntakeToken | None,
    now: datetime,
    savepoint: bool = True,
) -> tuple | None:
    """A repeat of a group with an open issue, recorded whole by one statement, or None.

    Outside a transaction the statement is its own transaction (all or nothing, a duplicate
    event id refuses all of it); inside one (a caller's atomic block) it gets a savepoint so
    that a refusal does not break the caller's transaction (unless the caller redoes its
    whole transaction on a refusal: `savepoint=False`).
    """
    params = _repeat_params(project, event, token=token, now=now)
    with transaction.atomic() if savepoint and connection.in_atomic_block else nullcontext():
        return fetchone(_RECORD_OPEN_REPEAT, params)


def _occurrence_values(
    project: Project, event: NormalizedEvent, *, token: IntakeToken | None, now: datetime
) -> list:
    """The intake_occurrence columns after group_id, in the order both statements list them."""
    return [
        project.pk,
        token.pk if token is not None else None,
        event.event_id,
        event.source,
        now,
        event.timestamp,
        event.level,
        event.message,
        event.environment,
        event.release,
        event.url,
        json.dumps(event.tags),
        json.dumps(event.extra),
    ]


_INSERT_OCCURRENCE = (
    'INSERT INTO "intake_occurrence" ("group_id", "project_id", "token_id", "event_id", '
    '"source", "received_at", "timestamp", "level", "message", "environment", "release", '
    '"url", "tags", "extra") VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)'
)


def _insert_occurrence(
    group_id: int,
    project: Project,
    event: NormalizedEvent,
    *,
    token: IntakeToken | None,
    now: datetime,
) -> None:
    """Occurrence.objects.create, written out: it runs for every event (see the bench)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_OCCURRENCE,
            [group_id, *_occurrence_values(project, event, token=token, now=now)],
        )


# One statement, race-free on PostgreSQL and SQLite alike (table: DailyCount).
_DAILY_UPSERT = (
    "INSERT INTO intake_dailycount (group_id, day, count) VALUES (%s, %s, 1) "
    "ON CONFLICT (group_id, day) DO UPDATE SET count = intake_dailycount.count + 1"
)


def _bump_daily_count(group_id: int, day: date) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_DAILY_UPSERT, [group_id, day])
