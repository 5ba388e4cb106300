"""Sentry SDK events: scrubbing before anything is stored, grouping, and the fields the
issue page shows.

Scrubbing (`scrub_event`), applied to every field of the event at accept time:
- values under keys that name secrets are replaced by "[Filtered]": password, passwd, pwd,
  secret, token, api_key/apikey, auth, authorization, credentials, cookie, session,
  csrf/xsrf, private_key, access_key, plus the project's own `scrub_fields`;
- string values that look like payment card numbers (13–19 digits passing the Luhn check)
  or IBANs (country code, check digits, 11–30 alphanumerics) are replaced too;
- the request's cookies and `Cookie`/`Authorization` headers are dropped;
- the user keeps only `id` (e-mail, username, name and IP are dropped);
- with the project's settings: frame local variables, and IP addresses, are dropped.

Grouping (`grouping_components`): the SDK's `fingerprint` when given (`{{ default }}` stands
for the default grouping), else the exception chain's types with their in-app frames
(module, function, normalised context line; all frames when none is in-app), else the
exception types and normalised values, else the normalised message.
"""

import functools
import json
import re
from collections.abc import Iterable
from typing import Any

from .models import Source
from .payloads import LEVELS, NormalizedEvent, normalise_message, parse_time

FILTERED = "[Filtered]"
SECRET_KEYS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "auth",
    "credentials",
    "cookie",
    "session",
    "csrf",
    "xsrf",
    "private_key",
    "access_key",
    "sentry_dsn",
)
_CARD_RE = re.compile(r"\b(?:\d[ -]?){12,18}\d\b", re.ASCII)
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b", re.ASCII)
_MAX_STRING = 8192
_MAX_DEPTH = 12
_MAX_FRAMES = 100
_MAX_EXCEPTIONS = 10
_MAX_BREADCRUMBS = 100


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _scrub_string(value: str) -> str:
    if len(value) < 13:  # shorter than any card number (13+ digits) or IBAN (15+)
        return value
    value = value[:_MAX_STRING]
    for match in _CARD_RE.finditer(value):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and _luhn(digits):
            return FILTERED
    if _IBAN_RE.search(value):
        return FILTERED
    return value


@functools.lru_cache(maxsize=64)
def _secret_re(extra: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(word) for word in SECRET_KEYS + extra))


@functools.lru_cache(maxsize=8192)
def _secret_key(name: str, extra: tuple[str, ...]) -> bool:
    # Cached: an event repeats the same few keys (filename, function, lineno …) many times.
    return _secret_re(extra).search(name.lower().replace("-", "_")) is not None


def _scrub(value: Any, extra: tuple[str, ...], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return "[too deep]"
    if isinstance(value, str):
        return _scrub_string(value)
    if isinstance(value, dict):
        return {
            str(k)[:200]: FILTERED if _secret_key(str(k), extra) else _scrub(v, extra, depth + 1)
            for k, v in list(value.items())[:500]
        }
    if isinstance(value, list):
        # Sentry sends headers and some tags as [name, value] pairs.
        if len(value) == 2 and isinstance(value[0], str) and _secret_key(value[0], extra):
            return [value[0], FILTERED]
        return [_scrub(v, extra, depth + 1) for v in value[:500]]
    return value


def scrub_event(
    event: dict[str, Any],
    *,
    extra_fields: Iterable[str] = (),
    drop_local_vars: bool = False,
    drop_ip_addresses: bool = True,
) -> dict[str, Any]:
    """A copy of the event with secrets, card numbers, IBANs and personal data removed."""
    extra = tuple(f.lower() for f in extra_fields if f)
    event = dict(event)
    request = event.get("request")
    if isinstance(request, dict):
        request = {k: v for k, v in request.items() if k not in ("cookies", "env")}
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                k: v
                for k, v in headers.items()
                if str(k).lower() not in ("cookie", "authorization")
            }
        elif isinstance(headers, list):
            request["headers"] = [
                h
                for h in headers
                if not (
                    isinstance(h, list) and h and str(h[0]).lower() in ("cookie", "authorization")
                )
            ]
        event["request"] = request
    user = event.get("user")
    if isinstance(user, dict):
        kept = {"id": str(user["id"])[:128]} if user.get("id") not in (None, "") else {}
        if not drop_ip_addresses and isinstance(user.get("ip_address"), str):
            kept["ip_address"] = user["ip_address"][:64]
        event["user"] = kept
    if drop_local_vars:
        for frame in _frames(event):
            frame.pop("vars", None)
    return _scrub(event, extra, 0)


# --- Reading the event -------------------------------------------------------------------


def exceptions(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The exception chain, outermost (the one raised last) first."""
    raw = event.get("exception")
    values = raw.get("values") if isinstance(raw, dict) else raw
    if not isinstance(values, list):
        return []
    chain = [v for v in values[-_MAX_EXCEPTIONS:] if isinstance(v, dict)]
    return list(reversed(chain))


def frames_of(exception: dict[str, Any]) -> list[dict[str, Any]]:
    """The exception's stack frames, oldest call first (as SDKs send them)."""
    stack = exception.get("stacktrace")
    frames = stack.get("frames") if isinstance(stack, dict) else None
    if not isinstance(frames, list):
        return []
    return [f for f in frames[-_MAX_FRAMES:] if isinstance(f, dict)]


def _frames(event: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for exc in exceptions(event):
        yield from frames_of(exc)
    threads = event.get("threads")
    values = threads.get("values") if isinstance(threads, dict) else None
    for thread in values if isinstance(values, list) else []:
        if isinstance(thread, dict):
            yield from frames_of(thread)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, length: int) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()[:length]


def message_of(event: dict[str, Any]) -> str:
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        text = _text(logentry.get("formatted") or logentry.get("message"), 10_000)
        if text:
            return text
    message = event.get("message")
    if isinstance(message, dict):
        return _text(message.get("formatted") or message.get("message"), 10_000)
    return _text(message, 10_000)


def title_of(event: dict[str, Any]) -> str:
    chain = exceptions(event)
    if chain:
        top = chain[0]
        kind = _text(top.get("type"), 120) or "Error"
        value = _text(top.get("value"), 200)
        return f"{kind}: {value}"[:200] if value else kind
    return message_of(event).splitlines()[0][:200] if message_of(event) else "Error"


def _frame_component(frame: dict[str, Any]) -> str:
    where = _text(frame.get("module") or frame.get("filename") or frame.get("abs_path"), 200)
    function = _text(frame.get("function"), 200)
    line = normalise_message(_text(frame.get("context_line"), 500))
    return f"{where}:{function}:{line}"


def _default_grouping(event: dict[str, Any]) -> list[str]:
    chain = exceptions(event)
    if chain:
        parts: list[str] = []
        with_frames = False
        for exc in chain:
            parts.append(_text(exc.get("type"), 120))
            frames = frames_of(exc)
            in_app = [f for f in frames if f.get("in_app") is True]
            for frame in in_app or frames:
                parts.append(_frame_component(frame))
                with_frames = True
        if not with_frames:
            parts += [normalise_message(_text(exc.get("value"), 2000)) for exc in chain]
        return parts
    return [normalise_message(message_of(event))]


def grouping_components(event: dict[str, Any]) -> list[str]:
    custom = event.get("fingerprint")
    if (
        isinstance(custom, list)
        and custom
        and all(isinstance(p, str | int | float) for p in custom)
    ):
        parts: list[str] = []
        for piece in custom[:20]:
            if piece == "{{ default }}" or piece == "{{default}}":
                parts += _default_grouping(event)
            else:
                parts.append(f"custom:{str(piece)[:200]}")
        return parts
    return _default_grouping(event)


def _tags(event: dict[str, Any]) -> dict[str, str]:
    raw = event.get("tags")
    tags: dict[str, str] = {}
    if isinstance(raw, dict):
        items: Iterable = raw.items()
    elif isinstance(raw, list):
        items = (p for p in raw if isinstance(p, list | tuple) and len(p) == 2)
    else:
        items = ()
    for name, value in items:
        if len(tags) >= 50:
            break
        tags[_text(name, 64)] = _text(value, 200)
    return {k: v for k, v in tags.items() if k}


def normalise_sdk_event(event: dict[str, Any], *, event_id: str) -> NormalizedEvent:
    """The intake event this SDK event counts as (grouped as documented above)."""
    level = _text(event.get("level"), 20).lower()
    request = _obj(event.get("request"))
    url = _text(request.get("url"), 500)
    if not url.startswith(("http://", "https://")):
        url = ""
    sdk = _obj(event.get("sdk"))
    timestamp = event.get("timestamp")
    return NormalizedEvent(
        source=Source.SDK,
        title=title_of(event),
        message=message_of(event) or title_of(event),
        level=level if level in LEVELS else "error",
        fingerprint="sdk:" + "\n".join(grouping_components(event)),
        event_id=event_id,
        environment=_text(event.get("environment"), 120),
        release=_text(event.get("release"), 60),
        tags=_tags(event),
        url=url,
        timestamp=parse_time(timestamp if isinstance(timestamp, int | float | str) else None),
        extra={
            "culprit": _text(event.get("culprit") or event.get("transaction"), 300),
            "sdk": f"{_text(sdk.get('name'), 60)} {_text(sdk.get('version'), 30)}".strip(),
        },
    )


# --- What the issue page shows -----------------------------------------------------------


def _display_value(value: Any, length: int = 300) -> str:
    """A value as text (JSON-ish for structures), clipped; always escaped by the template."""
    if isinstance(value, str):
        return value[:length]
    try:
        return json.dumps(value, ensure_ascii=False, default=str)[:length]
    except (TypeError, ValueError):
        return str(value)[:length]


def _context_lines(frame: dict[str, Any]) -> list[tuple[int | None, str, bool]]:
    lineno = frame.get("lineno") if isinstance(frame.get("lineno"), int) else None
    pre = [p for p in frame.get("pre_context") or [] if isinstance(p, str)][-5:]
    post = [p for p in frame.get("post_context") or [] if isinstance(p, str)][:5]
    current = frame.get("context_line")
    if not isinstance(current, str):
        return []
    lines: list[tuple[int | None, str, bool]] = []
    for offset, text in enumerate(pre):
        n = lineno - len(pre) + offset if lineno is not None else None
        lines.append((n, text[:300], False))
    lines.append((lineno, current[:300], True))
    for offset, text in enumerate(post):
        lines.append((lineno + offset + 1 if lineno is not None else None, text[:300], False))
    return lines


def _display_frame(frame: dict[str, Any]) -> dict[str, Any]:
    raw_vars = frame.get("vars")
    return {
        "in_app": frame.get("in_app") is True,
        "where": _text(frame.get("filename") or frame.get("module") or frame.get("abs_path"), 300)
        or "?",
        "function": _text(frame.get("function"), 200) or "?",
        "lineno": frame.get("lineno") if isinstance(frame.get("lineno"), int) else None,
        "lines": _context_lines(frame),
        "vars": [(str(k)[:100], _display_value(v)) for k, v in list(raw_vars.items())[:50]]
        if isinstance(raw_vars, dict)
        else [],
    }


def _pairs(value: Any, limit: int = 50) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = [tuple(p) for p in value if isinstance(p, list | tuple) and len(p) == 2]
    else:
        return []
    return [(str(k)[:100], _display_value(v)) for k, v in items[:limit]]


def display_event(payload: dict[str, Any]) -> dict[str, Any]:
    """The event's parts as plain strings and lists for the template (which escapes them)."""
    chain = []
    for exc in exceptions(payload):
        frames = [_display_frame(f) for f in frames_of(exc)]
        chain.append(
            {
                "type": _text(exc.get("type"), 200) or "Error",
                "value": _text(exc.get("value"), 2000),
                "module": _text(exc.get("module"), 200),
                # Most recent call last, as Python prints tracebacks.
                "frames": frames,
            }
        )
    crumbs_raw = payload.get("breadcrumbs")
    crumbs_raw = crumbs_raw.get("values") if isinstance(crumbs_raw, dict) else crumbs_raw
    breadcrumbs = [
        {
            "timestamp": _display_value(c.get("timestamp"), 40),
            "category": _text(c.get("category") or c.get("type"), 80),
            "level": _text(c.get("level"), 20),
            "message": _text(c.get("message"), 500) or _display_value(c.get("data"), 500),
        }
        for c in (crumbs_raw if isinstance(crumbs_raw, list) else [])[-_MAX_BREADCRUMBS:]
        if isinstance(c, dict)
    ]
    request = _obj(payload.get("request"))
    sdk = _obj(payload.get("sdk"))
    user = _obj(payload.get("user"))
    return {
        "title": title_of(payload),
        "message": message_of(payload) if not chain else "",
        "exceptions": chain,
        "breadcrumbs": breadcrumbs,
        "request": {
            "url": _text(request.get("url"), 500),
            "method": _text(request.get("method"), 10),
            "headers": _pairs(request.get("headers")),
            "query": _display_value(request.get("query_string"), 500)
            if request.get("query_string")
            else "",
        },
        "user_id": _text(user.get("id"), 128),
        "tags": _pairs(payload.get("tags")),
        "release": _text(payload.get("release"), 100),
        "environment": _text(payload.get("environment"), 100),
        "platform": _text(payload.get("platform"), 40),
        "sdk": f"{_text(sdk.get('name'), 60)} {_text(sdk.get('version'), 30)}".strip(),
        "level": _text(payload.get("level"), 20),
    }
