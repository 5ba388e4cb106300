"""The three accepted event formats, read into one `NormalizedEvent`.

- generic: the documented Resolve format (`GenericEvent`);
- sentry: a Sentry issue-alert webhook (integration platform, `data.event`), or the legacy
  webhook plugin payload (top-level `event` + `culprit`);
- alertmanager: a Prometheus Alertmanager webhook (version 4); each firing alert is one
  event, resolved alerts are ignored.

The format is detected from the payload's shape, or named with `?format=`.
Every problem raises `PayloadError` with a message naming the field.
"""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from issues.limits import AFFECTED_VERSION_MAX_CHARS, ENVIRONMENT_MAX_CHARS, TITLE_MAX_CHARS

from .models import Source

MAX_BODY_BYTES = 256 * 1024
LEVELS = ("fatal", "critical", "error", "warning", "info", "debug")


class PayloadError(Exception):
    def __init__(self, detail: str, *, field: str = "", code: str = "invalid_event") -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.code = code


class GenericEvent(BaseModel):
    """The generic Resolve event. Only `title` is required."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    title: str = Field(
        min_length=1, max_length=TITLE_MAX_CHARS, description="Short summary; the issue title."
    )
    message: str = Field("", max_length=10_000, description="Details, e.g. the error message.")
    level: Literal["fatal", "critical", "error", "warning", "info", "debug"] = Field(
        "error", description="Maps to the issue severity (per project)."
    )
    fingerprint: str | None = Field(
        None,
        max_length=500,
        description="Events with the same fingerprint group into one issue. "
        "When absent: derived from the title and the normalised message.",
    )
    event_id: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Client event id: sending the same id twice records it once.",
    )
    environment: str = Field("", max_length=ENVIRONMENT_MAX_CHARS)
    release: str = Field("", max_length=AFFECTED_VERSION_MAX_CHARS)
    tags: dict[str, str] = Field(
        default_factory=dict, description="Free tags; `component` routes assignment."
    )
    url: str = Field("", max_length=500)
    timestamp: datetime | None = Field(None, description="When it happened (ISO 8601).")
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timestamp")
    @classmethod
    def _plausible_time(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if not 1971 <= value.year <= 2999:
            raise ValueError("timestamp must be between 1971 and 2999")
        return value


# Documentation-only shapes of the two webhook formats (the parser is lenient beyond these).
class SentryEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    event_id: str | None = None
    title: str | None = None
    message: str | None = None
    level: str | None = None
    culprit: str | None = None
    issue_id: str | None = None
    environment: str | None = None
    release: str | None = None
    web_url: str | None = None
    datetime: str | None = None
    tags: list[list[str]] | None = None


class SentryData(BaseModel):
    model_config = ConfigDict(extra="allow")
    event: SentryEvent
    triggered_rule: str | None = None


class SentryIssueAlert(BaseModel):
    """Sentry issue-alert webhook (integration platform)."""

    model_config = ConfigDict(extra="allow")
    action: str = "triggered"
    data: SentryData


class AlertmanagerAlert(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: str
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None  # noqa: N815 - Alertmanager's field name
    generatorURL: str | None = None  # noqa: N815
    fingerprint: str | None = None


class AlertmanagerWebhook(BaseModel):
    """Prometheus Alertmanager webhook (version 4)."""

    model_config = ConfigDict(extra="allow")
    version: str = "4"
    status: str | None = None
    receiver: str | None = None
    alerts: list[AlertmanagerAlert]


@dataclass
class NormalizedEvent:
    source: str
    title: str
    message: str = ""
    level: str = "error"
    fingerprint: str | None = None
    event_id: str | None = None
    environment: str = ""
    release: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    url: str = ""
    timestamp: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint_text(self) -> str:
        if self.fingerprint:
            return f"fp:{self.fingerprint}"
        return f"{self.title.strip()}\n{normalise_message(self.message)}"

    @property
    def fingerprint_hash(self) -> str:
        return hashlib.sha256(self.fingerprint_text.encode()).hexdigest()

    @property
    def component(self) -> str:
        return (self.tags.get("component") or "")[:80]


_NORMALISERS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "<uuid>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?"),
        "<time>",
    ),
    (re.compile(r"\b(\d{1,3}\.){3}\d{1,3}\b"), "<ip>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<str>"),
    (re.compile(r"\d+"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def normalise_message(message: str) -> str:
    """The message with ids, numbers, times and quoted values replaced, so that
    'User 42 not found' and 'User 7 not found' group together."""
    text = (message or "")[:2000]
    for pattern, repl in _NORMALISERS:
        text = pattern.sub(repl, text)
    return text.strip().lower()


def _clip(value: Any, length: int) -> str:
    return ("" if value is None else str(value)).strip()[:length]


def parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), tz=UTC)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not 1971 <= parsed.year <= 2999:  # Alertmanager's "0001-01-01T00:00:00Z" is "not set"
        return None
    return parsed


def _level(value: Any, default: str = "error") -> str:
    level = _clip(value, 20).lower()
    return level if level in LEVELS or level == "page" else default


def _first_error(exc: ValidationError, prefix: str = "") -> PayloadError:
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(part) for part in first["loc"])
    name = f"{prefix}{loc}" if loc else prefix.rstrip(".")
    kind = first["type"]
    if kind == "missing":
        detail = f"“{name}” is required."
        code = "missing_field"
    else:
        detail = f"“{name}”: {first['msg']}."
        code = "invalid_field"
    return PayloadError(detail, field=name, code=code)


def detect_format(data: dict) -> str:
    if "alerts" in data and ("receiver" in data or "version" in data):
        return Source.ALERTMANAGER
    if isinstance(data.get("data"), dict) and "event" in data["data"]:
        return Source.SENTRY
    if isinstance(data.get("event"), dict) and ("culprit" in data or "project_name" in data):
        return Source.SENTRY
    return Source.GENERIC


def parse_events(data: Any, *, format: str | None = None) -> tuple[list[NormalizedEvent], int]:
    """The events in a decoded JSON payload and how many were ignored (resolved alerts)."""
    if not isinstance(data, dict):
        raise PayloadError("The body must be a JSON object.", code="invalid_body")
    fmt = format or detect_format(data)
    if fmt == Source.GENERIC:
        return [_parse_generic(data)], 0
    if fmt == Source.SENTRY:
        return [_parse_sentry(data)], 0
    if fmt == Source.ALERTMANAGER:
        return _parse_alertmanager(data)
    raise PayloadError(
        "Unknown format: use generic, sentry or alertmanager.", field="format", code="bad_format"
    )


def _parse_generic(data: dict) -> NormalizedEvent:
    try:
        event = GenericEvent.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc) from None
    return NormalizedEvent(source=Source.GENERIC, **event.model_dump())


def _parse_sentry(data: dict) -> NormalizedEvent:
    if isinstance(data.get("data"), dict):
        event = data["data"].get("event")
        prefix = "data.event"
        rule = _clip(data["data"].get("triggered_rule"), 200)
    else:  # legacy webhook plugin: the event at the top level, with culprit/url beside it
        legacy = data.get("event", {})
        if not isinstance(legacy, dict):
            raise PayloadError("“event” must be an object.", field="event")
        event = {**legacy, **{k: v for k, v in data.items() if k != "event"}}
        prefix = "event"
        rule = ""
    if not isinstance(event, dict):
        raise PayloadError(f"“{prefix}” must be an object.", field=prefix)
    title = _clip(
        event.get("title") or event.get("message") or event.get("culprit"), TITLE_MAX_CHARS
    )
    if not title:
        raise PayloadError(
            f"“{prefix}.title” is required.", field=f"{prefix}.title", code="missing_field"
        )
    raw_tags = event.get("tags") or []
    tags: dict[str, str] = {}
    if isinstance(raw_tags, list):
        for pair in raw_tags:
            if isinstance(pair, list | tuple) and len(pair) == 2:
                tags[_clip(pair[0], 64)] = _clip(pair[1], 200)
    elif isinstance(raw_tags, dict):
        tags = {_clip(k, 64): _clip(v, 200) for k, v in raw_tags.items()}
    issue_id = _clip(event.get("issue_id") or event.get("group_id") or data.get("id"), 64)
    message = _clip(event.get("message") or event.get("culprit"), 10_000)
    return NormalizedEvent(
        source=Source.SENTRY,
        title=title,
        message=message,
        level=_level(event.get("level")),
        fingerprint=f"sentry:{issue_id}" if issue_id else None,
        event_id=_clip(event.get("event_id"), 100) or None,
        environment=_clip(event.get("environment") or tags.get("environment"), 120),
        release=_clip(event.get("release"), 60),
        tags=tags,
        url=_clip(event.get("web_url") or data.get("url"), 500),
        timestamp=parse_time(event.get("datetime") or event.get("timestamp")),
        extra={"culprit": _clip(event.get("culprit"), 300), "rule": rule},
    )


def _parse_alertmanager(data: dict) -> tuple[list[NormalizedEvent], int]:
    try:
        hook = AlertmanagerWebhook.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc) from None
    events, ignored = [], 0
    for alert in hook.alerts:
        if alert.status != "firing":
            ignored += 1
            continue
        labels = alert.labels
        name = labels.get("alertname", "")
        title = _clip(alert.annotations.get("summary") or name, TITLE_MAX_CHARS)
        if not title:
            raise PayloadError(
                "Each alert needs labels.alertname or annotations.summary.",
                field="alerts.labels.alertname",
                code="missing_field",
            )
        identity = alert.fingerprint or ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        events.append(
            NormalizedEvent(
                source=Source.ALERTMANAGER,
                title=title,
                message=_clip(alert.annotations.get("description"), 10_000),
                level=_level(labels.get("severity"), default="error"),
                fingerprint=f"alertmanager:{identity}",
                # Alertmanager re-sends a firing alert every repeat_interval: one occurrence.
                event_id="am:"
                + hashlib.sha256(f"{identity}|{alert.startsAt or ''}".encode()).hexdigest()[:40],
                environment=_clip(labels.get("environment") or labels.get("env"), 120),
                tags={_clip(k, 64): _clip(v, 200) for k, v in labels.items()},
                url=_clip(alert.generatorURL, 500),
                timestamp=parse_time(alert.startsAt),
                extra={"receiver": _clip(hook.receiver, 120)},
            )
        )
    return events, ignored
