"""Writes for errors sent by Sentry SDKs: DSN keys, accepting events, processing them into
event groups and issues, and retention.

The request path stays cheap: `accept_sdk_events` validates, scrubs and stores each event
(one `INSERT … ON CONFLICT DO NOTHING`, so a retried event id is stored once) and asks for
processing after commit; `process_sdk_events`, in the worker, groups each stored event
through `ingest_event` — the same grouping, thresholds, regressions and issue filing as
every other intake source — and marks it processed in the same transaction.
"""

import json
import logging
import secrets
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.cache import caches
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from accounts.models import User
from projects.models import Project

from . import hotpath
from .models import DsnKey, IntakeSettings, SdkEvent
from .ratelimit import CACHE_ALIAS
from .sdk_events import normalise_sdk_event, scrub_event
from .services import IntakeError, get_intake_settings, ingest_event

logger = logging.getLogger(__name__)

PROCESS_BATCH = 200
# Events claimed (row-locked) and processed per transaction.
CLAIM = 50
PURGE_BATCH = 1000
# At most one processing task queued per this many seconds (a burst of events is one task).
KICK_SECONDS = 1
PROCESS_TASK = "intake.tasks.process_sdk_events_task"


@dataclass
class Accepted:
    event_ids: list[str]
    stored: int


def create_dsn_key(project: Project, *, name: str, actor: User) -> DsnKey:
    name = name.strip()
    if not name:
        raise IntakeError("Give the DSN a name, e.g. the application that will use it.")
    return DsnKey.objects.create(
        project=project, name=name[:80], public_key=secrets.token_hex(16), created_by=actor
    )


def revoke_dsn_key(key: DsnKey, *, actor: User) -> DsnKey:
    if key.revoked_at is not None:
        raise IntakeError("This DSN is already revoked.")
    key.revoked_at = timezone.now()
    key.revoked_by = actor
    key.save(update_fields=["revoked_at", "revoked_by"])
    return key


def accept_sdk_events(
    key: DsnKey,
    *,
    events: list[tuple[str, dict[str, Any]]],
    intake_settings: IntakeSettings,
    now: datetime | None = None,
) -> Accepted:
    """Scrub and store (event id, event) pairs for the key's project; ask for processing."""
    now = now or timezone.now()
    rows = []
    for event_id, event in events:
        clean = scrub_event(
            event,
            extra_fields=intake_settings.scrub_fields or (),
            drop_local_vars=intake_settings.drop_local_vars,
            drop_ip_addresses=intake_settings.drop_ip_addresses,
        )
        # Serialised once, here: the statement sends this text as is (what JSONField stores).
        payload = json.dumps(clean)
        rows.append([key.project_id, key.pk, event_id, now, payload, len(payload)])
    stored = 0
    # One event (what SDKs send) is one statement, in autocommit; several share a transaction.
    with transaction.atomic() if len(rows) > 1 else nullcontext():
        for params in rows:
            stored += hotpath.fetchone(_insert_event_sql(), params) is not None
        transaction.on_commit(_kick_processing)
    return Accepted(event_ids=[event_id for event_id, _ in events], stored=stored)


# A prepared statement (intake/hotpath.py): planned once per connection; the payload is sent
# as a parameter, not quoted into the SQL text by the client.
_INSERT_EVENT = (
    "INSERT INTO intake_sdkevent "
    "(project_id, key_id, event_id, received_at, payload, size, error) "
    "VALUES (%s, %s, %s, %s, %s{cast}, %s, '') "
    "ON CONFLICT (project_id, event_id) DO NOTHING RETURNING id"
)
# On PostgreSQL the event's transaction commits asynchronously (SDK_ASYNC_COMMIT, on by
# default): the row is stored and visible before the answer, but the answer does not wait for
# the WAL flush (an fsync per event: 1-4 ms on an idle disk, 10-30 ms on a busy one, and what
# capped the accept rate). A crash of the PostgreSQL server — not of Resolve — can lose the
# events of its last ~0.6 s (3 x wal_writer_delay); it never corrupts anything. That is the
# trade every error tracker makes for its ingestion (Sentry's Relay buffers in memory), and
# the SDKs drop events themselves when a server is slow. `set_config(..., true)` is local to
# the event's transaction: it is over at its commit and never reaches the web requests that
# later use the same persistent connection. Issues, comments and every other write keep
# synchronous commits.
_ASYNC_COMMIT = (
    "WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)) "
    "INSERT INTO intake_sdkevent "
    "(project_id, key_id, event_id, received_at, payload, size, error) "
    "SELECT %s, %s, %s, %s, %s::jsonb, %s, '' FROM async_commit "
    "ON CONFLICT (project_id, event_id) DO NOTHING RETURNING id"
)
# PostgreSQL stores the text as jsonb; SQLite (the embedded default) keeps JSON as text.
_INSERT_EVENT_SQL = {"postgresql": _INSERT_EVENT.format(cast="::jsonb")}


def _insert_event_sql() -> str:
    if connection.vendor == "postgresql" and settings.SDK_ASYNC_COMMIT:
        return _ASYNC_COMMIT
    return _INSERT_EVENT_SQL.get(connection.vendor) or _INSERT_EVENT.format(cast="")


def _kick_processing() -> None:
    if caches[CACHE_ALIAS].add("sdk-kick", 1, timeout=KICK_SECONDS):
        try:
            # By name: the task module imports this one.
            current_app.send_task(PROCESS_TASK)
        except Exception:  # broker down: the beat catch-up processes what is stored
            logger.warning("Could not queue SDK event processing; the beat catch-up will.")


def release_kick() -> None:
    """Processing ran dry: the next accepted event asks for it again at once."""
    caches[CACHE_ALIAS].delete("sdk-kick")


class _RetryOneByOne(Exception):
    """An event of an optimistic batch failed: the batch is redone an event at a time."""


@dataclass
class _Lookups:
    """What the events of a run share: each project's intake settings, and issue ids by
    number (issue numbers never change: one lookup per issue and run, not per event)."""

    settings: dict[int, IntakeSettings] = field(default_factory=dict)
    issue_ids: dict[tuple[int, int], int | None] = field(default_factory=dict)

    def settings_of(self, project: Project) -> IntakeSettings:
        if project.pk not in self.settings:
            self.settings[project.pk] = get_intake_settings(project)
        return self.settings[project.pk]

    def issue_id(self, project: Project, issue_key: str) -> int | None:
        number = int(issue_key.rsplit("-", 1)[1])
        if (project.pk, number) not in self.issue_ids:
            self.issue_ids[project.pk, number] = (
                project.issues.filter(number=number).values_list("pk", flat=True).first()
            )
        return self.issue_ids[project.pk, number]


def process_sdk_events(*, batch_size: int = PROCESS_BATCH) -> int:
    """Group stored, unprocessed events into issues; returns how many were processed.

    Events are claimed CLAIM at a time with `SKIP LOCKED` (two workers never take the same
    one) and marked processed in the transaction that records their occurrences, so a crash
    either leaves them pending (processed again, counted once by their event ids) or done.

    Each batch is first processed optimistically: no savepoint per event and one UPDATE
    marking the whole batch, so a repeat of a known group costs one round trip to PostgreSQL
    instead of six (the solo worker waits on round trips, not on its CPU). When any event of
    the batch fails, the batch rolls back whole and is redone an event at a time, each in its
    own savepoint, so one event that cannot be processed is marked with its error and the
    others are processed."""
    done = 0
    lookups = _Lookups()
    while done < batch_size:
        limit = min(CLAIM, batch_size - done)
        try:
            rows = _process_batch(limit, lookups, one_by_one=False)
        except _RetryOneByOne:
            # What the rolled-back batch looked up or created may not exist any more.
            lookups = _Lookups()
            rows = _process_batch(limit, lookups, one_by_one=True)
        if not rows:
            break
        done += rows
    return done


def _process_batch(limit: int, lookups: _Lookups, *, one_by_one: bool) -> int:
    with transaction.atomic():
        rows = list(
            SdkEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("project", "key__created_by")
            .filter(processed_at__isnull=True)
            .order_by("id")[:limit]
        )
        for row in rows:
            if one_by_one:
                _process_one(row, lookups)
                continue
            try:
                _record_one(row, lookups, savepoint=False)
            except Exception as exc:
                raise _RetryOneByOne from exc
        if rows:
            SdkEvent.objects.bulk_update(rows, ["group", "issue", "error", "processed_at"])
    return len(rows)


def _process_one(row: SdkEvent, lookups: _Lookups) -> None:
    """One event in its own savepoint: a refused event must not stay pending."""
    try:
        with transaction.atomic():
            _record_one(row, lookups, savepoint=True)
    except Exception as exc:
        logger.exception(
            "SDK event %s of project %s could not be processed", row.event_id, row.project.key
        )
        row.group_id = row.issue_id = None
        row.error = f"Could not be processed: {type(exc).__name__}"[:200]
        row.processed_at = timezone.now()


def _record_one(row: SdkEvent, lookups: _Lookups, *, savepoint: bool) -> None:
    """Group the event and set the row's outcome (saved by the caller, with its batch)."""
    project = row.project
    cfg = lookups.settings_of(project)
    now = timezone.now()
    row.processed_at = now
    if project.archived_at is not None or row.key is None:
        row.error = "The project is archived." if row.key else "The DSN was deleted."
        return
    event = normalise_sdk_event(row.payload, event_id=row.event_id)
    result = ingest_event(
        project,
        event=event,
        reporter=row.key.created_by,
        intake_settings=cfg,
        now=now,
        savepoint=savepoint,
    )
    row.group_id = result.group_id
    row.issue_id = lookups.issue_id(project, result.issue_key) if result.issue_key else None


def purge_sdk_events(*, now: datetime | None = None, batch_size: int = PURGE_BATCH) -> int:
    """Delete raw SDK events past their project's retention (days, then events per group),
    in batches; the issues, groups and counts stay. Returns how many were deleted."""
    now = now or timezone.now()
    deleted = 0
    for cfg in IntakeSettings.objects.all().only(
        "project_id", "sdk_retention_days", "sdk_events_per_group"
    ):
        cutoff = now - timedelta(days=cfg.sdk_retention_days)
        while True:
            ids = list(
                SdkEvent.objects.filter(project_id=cfg.project_id, received_at__lt=cutoff)
                .exclude(processed_at__isnull=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            deleted += SdkEvent.objects.filter(pk__in=ids).delete()[0]
        deleted += _purge_beyond_group_cap(cfg, batch_size=batch_size)
    # Events of projects that never saved intake settings keep the default retention.
    default_cutoff = now - timedelta(
        days=IntakeSettings._meta.get_field("sdk_retention_days").default
    )
    while True:
        ids = list(
            SdkEvent.objects.filter(received_at__lt=default_cutoff)
            .exclude(project__intake_settings__isnull=False)
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        deleted += SdkEvent.objects.filter(pk__in=ids).delete()[0]
    return deleted


def _purge_beyond_group_cap(cfg: IntakeSettings, *, batch_size: int) -> int:
    deleted = 0
    crowded = (
        SdkEvent.objects.filter(project_id=cfg.project_id, group__isnull=False)
        .values("group_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=cfg.sdk_events_per_group)
        .values_list("group_id", flat=True)
    )
    for group_id in list(crowded[:batch_size]):
        keep = SdkEvent.objects.filter(group_id=group_id).order_by("-received_at", "-pk")
        cut = keep.values_list("received_at", "pk")[
            cfg.sdk_events_per_group : cfg.sdk_events_per_group + 1
        ]
        if not cut:
            continue
        received_at, pk = cut[0]
        old = SdkEvent.objects.filter(group_id=group_id, received_at__lte=received_at).exclude(
            received_at=received_at, pk__gt=pk
        )
        deleted += old.delete()[0]
    return deleted


def update_sdk_settings(
    project: Project,
    *,
    scrub_fields: list[str],
    drop_local_vars: bool,
    drop_ip_addresses: bool,
    sdk_retention_days: int,
    sdk_events_per_group: int,
) -> IntakeSettings:
    """Data protection and retention for the project's SDK events (applies to new events)."""
    cfg = get_intake_settings(project)
    cfg.scrub_fields = scrub_fields
    cfg.drop_local_vars = drop_local_vars
    cfg.drop_ip_addresses = drop_ip_addresses
    cfg.sdk_retention_days = sdk_retention_days
    cfg.sdk_events_per_group = sdk_events_per_group
    cfg.save(
        update_fields=[
            "scrub_fields",
            "drop_local_vars",
            "drop_ip_addresses",
            "sdk_retention_days",
            "sdk_events_per_group",
        ]
    )
    return cfg
