"""From a group to an issue: file one at the project's threshold, and a regression (an event
of a fixed issue) reopens it or files a new one linked to it."""

from datetime import datetime, timedelta

from django.db import transaction
from packaging.version import InvalidVersion, Version

from accounts.actors import Actor
from issues.models import EventKind, Issue, IssueEvent, LinkKind, Resolution, Status
from issues.services import link_issues
from projects.services import version_for_release
from workflows.issue_use_cases import create_issue
from workflows.services import WorkflowError, reopen_for_regression

from ..models import (
    EventGroup,
    IntakeSettings,
    Occurrence,
    Regression,
    RegressionPolicy,
    Source,
)
from ..payloads import NormalizedEvent
from .tokens import IntakeError

# Where "reopen" moves a regressed issue (workflows.services.reopen_for_regression).
REOPEN_STATUS = Status.ASSIGNED
# Closed with these resolutions: later events only count, nothing reopens.
STAYS_CLOSED_RESOLUTIONS = (Resolution.WONT_FIX,)


def _route_to_issue(
    group: EventGroup,
    cfg: IntakeSettings,
    *,
    event: NormalizedEvent,
    reporter: Actor,
    now: datetime,
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
    group: EventGroup, cfg: IntakeSettings, *, event: NormalizedEvent, reporter: Actor
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
    group: EventGroup, cfg: IntakeSettings, *, event: NormalizedEvent, reporter: Actor
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
    group: EventGroup,
    cfg: IntakeSettings,
    old: Issue,
    *,
    event: NormalizedEvent,
    reporter: Actor,
    note: str,
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
