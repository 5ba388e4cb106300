"""Writes of the intake app: tokens, settings, ingesting events, regressions, assignment.

`ingest_event` is the heart:
1. bump the event group of the fingerprint (the UPDATE row-locks it), or create it on first
   sight (one row per fingerprint is guaranteed by a unique constraint; on PostgreSQL one
   `INSERT … ON CONFLICT DO UPDATE`, so concurrent first events wait for the first one's row
   and create ONE group and ONE issue);
2. record the occurrence, bump the count, first/last seen and the per-day count;
3. refuse a duplicate client event id (idempotency): a unique constraint refuses the
   occurrence, the transaction rolls back whole and the first recording is answered;
4. file the issue once the project's threshold is reached in its window, or handle a
   regression when the group's issue is Fixed/Closed.
All in one transaction: an event is either fully recorded or not at all.

The common case on PostgreSQL, a repeat of a group whose issue is open, is ONE prepared
statement in autocommit (a single statement is atomic by itself: no BEGIN/COMMIT round
trips); it matches nothing for a new fingerprint, a group without an issue or a group whose
issue is Fixed/Closed, which then take the transaction above.
"""

import json
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from packaging.version import InvalidVersion, Version

from api.tokens import new_token
from issues.models import EventKind, Issue, IssueEvent, LinkKind, Resolution, Status
from issues.services import link_issues
from projects.models import Component, Project
from projects.services import version_for_release
from workflows.issue_use_cases import create_issue
from workflows.models import AssignmentRule, Availability
from workflows.services import WorkflowError, reopen_for_regression

from .hotpath import fetchone
from .models import (
    EventGroup,
    IntakeSettings,
    IntakeToken,
    Occurrence,
    Regression,
    RegressionPolicy,
    Source,
)
from .payloads import NormalizedEvent

# Where "reopen" moves a regressed issue (workflows.services.reopen_for_regression).
REOPEN_STATUS = Status.ASSIGNED
# Closed with these resolutions: later events only count, nothing reopens.
STAYS_CLOSED_RESOLUTIONS = (Resolution.WONT_FIX,)


class IntakeError(Exception):
    """A refused intake change; `str(error)` is the message shown."""


# --- Tokens and settings -----------------------------------------------------------------


def create_intake_token(project: Project, *, name: str, actor) -> tuple[IntakeToken, str]:
    """A new token for the project; returns it with the secret (shown once, never stored)."""
    name = name.strip()
    if not name:
        raise IntakeError("Give the token a name, e.g. the tool that will use it.")
    raw, prefix, digest = new_token("rsi")
    token = IntakeToken.objects.create(
        project=project, name=name[:80], prefix=prefix, digest=digest, created_by=actor
    )
    return token, raw


def revoke_intake_token(token: IntakeToken, *, actor) -> IntakeToken:
    if token.revoked_at is not None:
        raise IntakeError("This token is already revoked.")
    token.revoked_at = timezone.now()
    token.revoked_by = actor
    token.save(update_fields=["revoked_at", "revoked_by"])
    return token


def get_intake_settings(project: Project) -> IntakeSettings:
    settings_row, _ = IntakeSettings.objects.get_or_create(project=project)
    return settings_row


def update_intake_settings(
    project: Project,
    *,
    threshold: int,
    window_minutes: int,
    regression_policy: str,
    rate_limit_per_minute: int,
    level_severity: dict[str, int],
) -> IntakeSettings:
    if threshold < 1 or window_minutes < 1 or rate_limit_per_minute < 1:
        raise IntakeError("Threshold, window and rate limit must be at least 1.")
    row = get_intake_settings(project)
    row.threshold = threshold
    row.window_minutes = window_minutes
    row.regression_policy = regression_policy
    row.rate_limit_per_minute = rate_limit_per_minute
    row.level_severity = level_severity
    row.save(
        update_fields=[
            "threshold",
            "window_minutes",
            "regression_policy",
            "rate_limit_per_minute",
            "level_severity",
        ]
    )
    return row


def touch_token(token: IntakeToken, *, now: datetime) -> None:
    """Remember when a token was last used (at most one write a minute per token)."""
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        IntakeToken.objects.filter(pk=token.pk).update(last_used_at=now)


# --- Ingesting ---------------------------------------------------------------------------


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
    reporter,
    token: IntakeToken | None = None,
    intake_settings: IntakeSettings | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Record one event (see the module docstring for the steps)."""
    now = now or timezone.now()
    cfg = intake_settings or get_intake_settings(project)
    created_issue, regression = False, ""
    try:
        if connection.vendor == "postgresql":
            row = _record_open_repeat(project, event, token=token, now=now)
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


def _record_sqlite(project: Project, event: NormalizedEvent, *, token, now: datetime) -> tuple:
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


def _repeat_params(project: Project, event: NormalizedEvent, *, token, now: datetime) -> list:
    return [
        *_bump_params(project, event, now),
        *_occurrence_values(project, event, token=token, now=now),
        now.date(),
    ]


def _record_upsert(project: Project, event: NormalizedEvent, *, token, now: datetime) -> tuple:
    group = _new_group_fields(event, now)
    return fetchone(
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
    )


def _record_open_repeat(project: Project, event: NormalizedEvent, *, token, now: datetime):
    """A repeat of a group with an open issue, recorded whole by one statement, or None.

    Outside a transaction the statement is its own transaction (all or nothing, a duplicate
    event id refuses all of it); inside one (a caller's atomic block) it gets a savepoint so
    that a refusal does not break the caller's transaction.
    """
    params = _repeat_params(project, event, token=token, now=now)
    with transaction.atomic() if connection.in_atomic_block else nullcontext():
        return fetchone(_RECORD_OPEN_REPEAT, params)


def _occurrence_values(project: Project, event: NormalizedEvent, *, token, now: datetime) -> list:
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
    group_id: int, project: Project, event: NormalizedEvent, *, token, now: datetime
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


def _route_to_issue(
    group: EventGroup, cfg: IntakeSettings, *, event: NormalizedEvent, reporter, now: datetime
) -> tuple[bool, str]:
    """File the group's issue or handle a regression. Returns (created_issue, regression)."""
    issue = group.issue
    if issue is None:
        if cfg.threshold > 1:
            since = now - timedelta(minutes=cfg.window_minutes)
            recent = Occurrence.objects.filter(group=group, received_at__gte=since).count()
            if recent < cfg.threshold:
                return False, ""
        group.issue = _file_issue(group, cfg, event=event, reporter=reporter)
        return True, ""
    if issue.status not in (Status.FIXED, Status.CLOSED):
        return False, ""
    if issue.status == Status.CLOSED and issue.resolution in STAYS_CLOSED_RESOLUTIONS:
        return False, ""
    if event.source == Source.SDK and not _returns_in_newer_release(group, issue, event, now):
        return False, ""  # an older deployment still running: it counts, nothing reopens
    return _handle_regression(group, cfg, event=event, reporter=reporter)


def release_version(release: str) -> tuple[str, Version] | None:
    """A release as (package, version) for ordering, or None when it has no order.

    Sentry's convention is `package@version` (`shop-web@1.4.0`, `shop@2.0.0+abc123`); a bare
    `1.4.0` is the empty package. Versions compare as PEP 440 (which also reads semver-like
    `1.4.0-rc.1` and a leading `v`); a git SHA or a name has no order."""
    package, _, version = release.strip().rpartition("@")
    try:
        return package, Version(version)
    except InvalidVersion:
        return None


def _returns_in_newer_release(
    group: EventGroup, issue: Issue, event: NormalizedEvent, now: datetime
) -> bool:
    """Whether an SDK event for a Fixed/Closed issue comes from a newer release than the one
    it was fixed in — the release(s) the error was seen in up to the issue's last move to
    Fixed/Closed. When that cannot be told (no release on either side, releases without an
    order, another package) it counts as newer: a regression must not go unnoticed. The
    same release, or an older one, is an old deployment still running: no regression."""
    if not event.release:
        return True
    fixed_at = (
        IssueEvent.objects.filter(
            issue=issue,
            kind=EventKind.TRANSITIONED,
            new_value__in=(Status.FIXED, Status.CLOSED),
        )
        .order_by("-created_at", "-pk")
        .values_list("created_at", flat=True)
        .first()
    )
    # Without the transition on record, every earlier event (this one is received at `now`).
    before = {"received_at__lte": fixed_at} if fixed_at else {"received_at__lt": now}
    seen = (
        Occurrence.objects.filter(group=group, **before)
        .exclude(release="")
        .values_list("release", flat=True)
        .distinct()[:200]
    )
    releases = set(seen)
    if not releases:
        return True
    if event.release in releases:
        return False
    new = release_version(event.release)
    if new is None:
        return True
    fixed = [v for r in releases if (v := release_version(r)) is not None and v[0] == new[0]]
    return not fixed or new[1] > max(v for _, v in fixed)


def _describe(group: EventGroup, event: NormalizedEvent) -> str:
    lines = [
        event.message or "(no message)",
        "",
        f"Filed automatically from a {group.get_source_display()} event.",
    ]
    for label, value in (
        ("Environment", event.environment),
        ("Release", event.release),
        ("Link", event.url),
    ):
        if value:
            lines.append(f"- {label}: {value}")
    if event.tags:
        lines.append("- Tags: " + ", ".join(f"{k}={v}" for k, v in sorted(event.tags.items())))
    return "\n".join(lines)


def _file_issue(
    group: EventGroup, cfg: IntakeSettings, *, event: NormalizedEvent, reporter
) -> Issue:
    # create_issue runs the project's assignment rules (with the event's component tag).
    return create_issue(
        group.project,
        reporter=reporter,
        title=group.title,
        description=_describe(group, event),
        type=cfg.issue_type,
        severity=cfg.severity_for(event.level),
        environment=event.environment[:120],
        # The release names a version of the project (created unreleased when new).
        affected_version=version_for_release(group.project, event.release),
        component_tag=group.component,
    )


def _handle_regression(
    group: EventGroup, cfg: IntakeSettings, *, event: NormalizedEvent, reporter
) -> tuple[bool, str]:
    old = group.issue
    if old is None:  # pragma: no cover - only called for a group with an issue
        raise IntakeError("A regression needs an issue.")
    if cfg.regression_policy == RegressionPolicy.REOPEN:
        try:
            with transaction.atomic():
                reopen_for_regression(
                    old,
                    reason=f"Regression: a new {group.get_source_display()} event arrived.",
                )
        except WorkflowError as exc:
            # The regression must not go unnoticed: file a new issue instead, and say why.
            note = f"Reopening was refused ({exc}); a new issue was filed instead."
            _file_regression_issue(group, cfg, old, event=event, reporter=reporter, note=note)
            return True, RegressionPolicy.NEW_ISSUE
        Regression.objects.create(group=group, old_issue=old, action=RegressionPolicy.REOPEN)
        return False, RegressionPolicy.REOPEN
    _file_regression_issue(group, cfg, old, event=event, reporter=reporter, note="")
    return True, RegressionPolicy.NEW_ISSUE


def _file_regression_issue(
    group: EventGroup, cfg: IntakeSettings, old: Issue, *, event, reporter, note: str
) -> Issue:
    new = _file_issue(group, cfg, event=event, reporter=reporter)
    Regression.objects.create(
        group=group, old_issue=old, new_issue=new, action=RegressionPolicy.NEW_ISSUE, note=note
    )
    # The new issue "relates to" the old one: an ordinary link (shown on both pages, recorded
    # on both audit trails, by the intake reporter); the Regression row says why.
    link_issues(new, target=old, kind=LinkKind.RELATES, actor=reporter)
    group.issue = new
    return new


# --- Availability --------------------------------------------------------------------------


def set_availability(user, *, away_until: date | None, note: str = "") -> Availability:
    """Mark the user out of office until a date (inclusive), or back (None)."""
    if away_until is not None and away_until < timezone.localdate():
        raise IntakeError("Choose today or a later date.")
    row, _ = Availability.objects.update_or_create(
        user=user, defaults={"away_until": away_until, "note": note[:120]}
    )
    return row


# --- Assignment rules ----------------------------------------------------------------------


def create_assignment_rule(
    project: Project,
    *,
    position: int,
    match_component: str,
    match_label: str,
    owner,
    team,
    component: Component | None = None,
) -> AssignmentRule:
    """A rule targets an owner or a team, or (with neither) routes by its component."""
    if owner is not None and team is not None:
        raise IntakeError("Choose either an owner or a team (one of the two).")
    if owner is None and team is None and component is None:
        raise IntakeError("Choose an owner, a team, or a component (routed to its lead or team).")
    if component is not None and (
        component.project_id != project.pk or component.archived_at is not None
    ):
        raise IntakeError(f"Choose an active component of {project.key}.")
    return AssignmentRule.objects.create(
        project=project,
        position=position,
        match_component=match_component.strip(),
        match_label=match_label.strip(),
        owner=owner,
        team=team,
        component=component,
    )


def delete_assignment_rule(rule: AssignmentRule) -> None:
    rule.delete()
