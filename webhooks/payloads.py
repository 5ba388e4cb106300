"""The JSON sent to receivers: one envelope (`type`, `timestamp`, `data`, Standard Webhooks),
one shape per event type, versioned by `Subscription.payload_version` (header
`Resolve-Webhook-Version`). The pydantic models below are the documentation (OpenAPI 3.1
`webhooks`, see `api.main`); `build_*` produce exactly that shape from an activity record.
A new field is added without a version bump; renaming or removing one needs version 2.
"""

import json
from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from pydantic import BaseModel, Field, create_model

from accounts.actors import Actor
from issues.models import EventKind, Issue, IssueEvent, Priority, Severity, Status
from workflows.businesstime import format_duration
from workflows.selectors import SlaState, sla_state

from .models import PING, EventType, Format


class Person(BaseModel):
    username: str
    name: str


class Sla(BaseModel):
    state: str = Field(description="on_track, at_risk, breached, paused or none")
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    at_risk_at: datetime | None
    paused: bool


class Change(BaseModel):
    field: str = Field(description="status, owner, priority, title … (what the event changed)")
    old: str
    new: str


class Comment(BaseModel):
    id: int | None
    excerpt: str = Field(description="The first 280 characters of the comment (Markdown)")


class SlaAlert(BaseModel):
    step: str = Field(description="warning, breach or escalation")
    label: str
    due_at: datetime | None


class IssueData(BaseModel):
    key: str = Field(examples=["WEB-42"])
    url: str
    project: str
    title: str
    status: str = Field(description="new, assigned, revise, retest, fixed or closed")
    priority: str = Field(description="Low, Medium or High")
    severity: str = Field(description="Trivial, Minor, Major or Critical")
    owner: Person | None
    sla: Sla
    actor: Person | None = Field(description="Who acted; null for Resolve itself (SLA sweep)")
    change: Change | None = None
    comment: Comment | None = None
    resolution: str | None = Field(None, description="Set on issue.closed")
    resolution_summary: str | None = None
    sla_alert: SlaAlert | None = None


class PingData(BaseModel):
    project: str
    subscription: int
    message: str


def _envelope(type_: str, data: type[BaseModel]) -> type[BaseModel]:
    return create_model(
        "Webhook_" + type_.replace(".", "_"),
        type=(Literal[type_], ...),  # type: ignore[valid-type,arg-type]
        timestamp=(datetime, ...),
        data=(data, ...),
    )


# type -> the model of its whole body; read by the OpenAPI document.
ENVELOPES: dict[str, type[BaseModel]] = {t.value: _envelope(t.value, IssueData) for t in EventType}
ENVELOPES[PING] = _envelope(PING, PingData)


# --- which type an activity record is -------------------------------------------------------


def candidate_types(event: IssueEvent) -> list[EventType]:
    """The types this record can be announced as, most specific first; a subscription gets
    the first one it subscribed to (a close is also a status change, an assignment made by a
    transition too), so one event is one delivery per endpoint."""
    data = event.data or {}
    if event.kind == EventKind.CREATED:
        return [EventType.CREATED]
    if event.kind == EventKind.TRANSITIONED:
        first = []
        if event.new_value == Status.CLOSED:
            first = [EventType.CLOSED]
        elif data.get("owner_id") and data.get("transition") in ("assign", "auto_assign", "reopen"):
            first = [EventType.ASSIGNED]
        return [*first, EventType.STATUS_CHANGED]
    if event.kind == EventKind.CHANGED:
        if data.get("with_transition"):
            return []  # the transition's own record announces it
        if event.field == "owner":
            return [EventType.ASSIGNED, EventType.FIELDS_CHANGED]
        return [EventType.FIELDS_CHANGED]
    if event.kind == EventKind.COMMENTED:
        return [EventType.COMMENTED]
    if event.kind == EventKind.SLA_FLAGGED:
        step = str(data.get("step", ""))
        return {
            "warning": [EventType.SLA_AT_RISK],
            "breach": [EventType.SLA_BREACHED],
            "escalation": [EventType.ESCALATED],
        }.get(step, [])
    return []


# --- building bodies ------------------------------------------------------------------------


def _person(user: Actor | None) -> dict | None:
    if user is None:
        return None
    return {"username": user.username, "name": str(user)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def issue_url(issue: Issue) -> str:
    return f"{settings.BASE_URL}/issues/{issue.project.key}-{issue.number}/"


def issue_data(
    issue: Issue,
    event: IssueEvent,
    type_: str,
    *,
    owner: Actor | None,
    comment_excerpt: str = "",
    now: datetime,
) -> dict[str, Any]:
    data = event.data or {}
    body: dict[str, Any] = {
        "key": f"{issue.project.key}-{issue.number}",
        "url": issue_url(issue),
        "project": issue.project.key,
        "title": issue.title,
        "status": issue.status,
        "priority": Priority(issue.priority).label,
        "severity": Severity(issue.severity).label,
        "owner": _person(owner),
        "sla": {
            "state": sla_state(issue, now),
            "response_due_at": _iso(issue.response_due_at),
            "resolution_due_at": _iso(issue.resolution_due_at),
            "at_risk_at": _iso(issue.at_risk_at),
            "paused": issue.sla_paused_at is not None,
        },
        "actor": _person(event.actor),
    }
    if event.kind in (EventKind.TRANSITIONED, EventKind.CHANGED):
        body["change"] = {"field": event.field, "old": event.old_value, "new": event.new_value}
    if type_ == EventType.COMMENTED:
        body["comment"] = {"id": data.get("comment_id"), "excerpt": comment_excerpt}
    if type_ == EventType.CLOSED:
        body["resolution"] = issue.resolution or data.get("resolution") or ""
        body["resolution_summary"] = issue.resolution_summary
    if event.kind == EventKind.SLA_FLAGGED:
        body["sla_alert"] = {
            "step": data.get("step", ""),
            "label": event.new_value,
            "due_at": data.get("due_at"),
        }
    return body


def envelope(type_: str, data: dict[str, Any], *, at: datetime) -> dict[str, Any]:
    return {"type": type_, "timestamp": at.isoformat(), "data": data}


_CHAT_WHAT = {
    EventType.CREATED: "created",
    EventType.ASSIGNED: "assigned",
    EventType.STATUS_CHANGED: "status changed",
    EventType.COMMENTED: "new comment",
    EventType.FIELDS_CHANGED: "changed",
    EventType.SLA_AT_RISK: "at risk",
    EventType.SLA_BREACHED: "SLA breached",
    EventType.ESCALATED: "escalated to Managers",
    EventType.CLOSED: "closed",
}


def _chat_detail(type_: str, data: dict[str, Any], now: datetime) -> str:
    change = data.get("change") or {}
    if type_ in (EventType.SLA_AT_RISK, EventType.SLA_BREACHED, EventType.ESCALATED):
        due = data["sla"].get("resolution_due_at")
        if due:
            left = datetime.fromisoformat(due) - now
            return (
                f"due in {format_duration(left)}"
                if left.total_seconds() > 0
                else (f"overdue by {format_duration(left)}")
            )
        return ""
    if type_ == EventType.STATUS_CHANGED:
        return f"{_status(change.get('old', ''))} → {_status(change.get('new', ''))}"
    if type_ == EventType.CLOSED:
        return str(data.get("resolution") or "")
    if type_ == EventType.FIELDS_CHANGED:
        return f"{change.get('field')}: {change.get('old') or '—'} → {change.get('new') or '—'}"
    if type_ == EventType.ASSIGNED:
        owner = data.get("owner")
        return f"to {owner['name']}" if owner else ""
    if type_ == EventType.COMMENTED and data.get("actor"):
        return f"by {data['actor']['name']}"
    return ""


def _status(value: str) -> str:
    try:
        return str(Status(value).label)
    except ValueError:
        return value


def chat_message(type_: str, data: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """Slack-compatible `text` + `blocks` (Mattermost and Rocket.Chat accept the same):
    `[WEB-42] at risk: due in 1 h 10 min — Checkout times out (High · Critical · owner …)`."""
    if type_ == PING:
        text = f"Resolve webhook test for project {data['project']}: it works."
        return {"text": text, "blocks": [_section(text)]}
    what = _CHAT_WHAT.get(EventType(type_), type_)
    detail = _chat_detail(type_, data, now)
    owner = data["owner"]["name"] if data.get("owner") else "unassigned"
    facts = f"{data['priority']} · {data['severity']} · owner {owner}"
    head = f"{what}: {detail}" if detail else what
    text = f"[{data['key']}] {head} — {data['title']} ({facts})"
    linked = (
        f"<{data['url']}|[{_escape(data['key'])}]> {_escape(head)} — "
        f"{_escape(data['title'])} ({_escape(facts)})"
    )
    blocks = [_section(linked)]
    if type_ == EventType.COMMENTED and data.get("comment", {}).get("excerpt"):
        blocks.append(_section("> " + _escape(data["comment"]["excerpt"]).replace("\n", "\n> ")))
    return {"text": f"{text} {data['url']}", "blocks": blocks}


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn[:3000]}}


def _escape(text: str) -> str:
    """Slack's three control characters; everything else is literal text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_body(fmt: str, type_: str, data: dict[str, Any], *, at: datetime) -> str:
    payload = (
        chat_message(type_, data, now=at) if fmt == Format.CHAT else envelope(type_, data, at=at)
    )
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


__all__ = ["ENVELOPES", "SlaState", "candidate_types", "render_body", "issue_data"]
