"""The wire protocol of Sentry SDKs, parsed strictly and within fixed bounds.

What an SDK sends (https://develop.sentry.dev/sdk/data-model/envelopes/):
- `POST /api/<project>/envelope/`: an envelope — a JSON header line, then items, each a JSON
  item header line (`type`, optional `length`) and a payload of `length` bytes or up to the
  next newline;
- `POST /api/<project>/store/` (legacy): one event as a JSON object;
- the key in `X-Sentry-Auth: Sentry sentry_key=…, sentry_version=7, …` or `?sentry_key=`,
  or the envelope header's `dsn`;
- bodies optionally compressed (`Content-Encoding: gzip`, `deflate` or `br`).

Bounds (each refusal is a `ProtocolError` with the HTTP status to answer): the compressed
body, the decompressed body (a decompression bomb stops at the cap, it is never inflated
whole), one event's size, JSON nesting depth, and non-finite numbers (NaN, Infinity, 1e999
are not JSON and would not survive PostgreSQL's jsonb).
"""

import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import brotli

MAX_BODY_BYTES = 10 * 1024 * 1024  # compressed, as received (checked before reading)
MAX_DECOMPRESSED_BYTES = 20 * 1024 * 1024
MAX_EVENT_BYTES = 1024 * 1024  # Sentry's own limit for one event
MAX_JSON_DEPTH = 64
MAX_ITEMS = 100

# Item types an SDK may send besides events: accepted and ignored (documented in the README).
IGNORED_ITEM_TYPES = frozenset(
    {
        "transaction",
        "session",
        "sessions",
        "attachment",
        "client_report",
        "user_report",
        "profile",
        "profile_chunk",
        "replay_event",
        "replay_recording",
        "check_in",
        "statsd",
        "metric_meta",
        "span",
        "log",
        "otel_log",
        "feedback",
    }
)
EVENT_ITEM_TYPES = frozenset({"event"})

_KEY_RE = re.compile(r"^[0-9a-f]{32}$", re.ASCII)
_EVENT_ID_RE = re.compile(r"^[0-9a-f]{32}$", re.ASCII)


class ProtocolError(Exception):
    """A refused request: `status` is the HTTP status, `str(error)` the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Envelope:
    header: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    ignored: int = 0


# --- Authentication ----------------------------------------------------------------------


def key_from_auth_header(value: str) -> str | None:
    """The `sentry_key` of an `X-Sentry-Auth` (or `Authorization: Sentry …`) header."""
    value = value.strip()
    if value[:7].lower() == "sentry ":
        value = value[7:]
    for part in value.split(","):
        name, _, raw = part.strip().partition("=")
        if name.strip() == "sentry_key":
            return raw.strip() or None
    return None


def key_from_dsn(dsn: Any) -> str | None:
    if not isinstance(dsn, str) or len(dsn) > 500:
        return None
    try:
        return urlparse(dsn).username or None
    except ValueError:
        return None


def valid_key(key: str | None) -> bool:
    return bool(key) and bool(_KEY_RE.match(key or ""))


# --- Bodies ------------------------------------------------------------------------------


def read_chunked(
    readline: Callable[[int], bytes], read: Callable[[int], bytes], limit: int
) -> bytes:
    """Decode an HTTP/1.1 `Transfer-Encoding: chunked` body from the raw connection.

    `@sentry/node` streams its bodies chunked (no Content-Length). gunicorn decodes them
    itself; Django's development server (`make run`, the tests' live server) hands the view
    the raw connection, so the view decodes here — strictly, never past `limit` bytes."""
    body = bytearray()
    while True:
        line = readline(1026)
        size_text = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_text):
            raise ProtocolError(400, "The chunked body is malformed.")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise ProtocolError(413, "The body is larger than 10 MiB.")
        chunk = read(size)
        if len(chunk) != size or read(2) != b"\r\n":
            raise ProtocolError(400, "The chunked body is truncated.")
        body += chunk
    for _ in range(100):  # trailer fields, then the empty line that ends the body
        line = readline(1026)
        if line in (b"\r\n", b"\n", b""):
            return bytes(body)
    raise ProtocolError(400, "The chunked body's trailer is too long.")


def decompress(body: bytes, encoding: str) -> bytes:
    """The body decoded per `Content-Encoding`, never more than MAX_DECOMPRESSED_BYTES."""
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    try:
        if encoding in ("gzip", "x-gzip", "deflate"):
            # wbits: 16+ for gzip, 32+ auto-detects zlib/gzip (deflate is zlib-wrapped).
            wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else 32 + zlib.MAX_WBITS
            inflater = zlib.decompressobj(wbits)
            out = inflater.decompress(body, MAX_DECOMPRESSED_BYTES + 1)
            if len(out) > MAX_DECOMPRESSED_BYTES or inflater.unconsumed_tail:
                raise ProtocolError(413, "The decompressed body is larger than 20 MiB.")
            if not inflater.eof:
                raise ProtocolError(400, "The compressed body is truncated.")
            return out
        if encoding == "br":
            decoder = brotli.Decompressor()
            out = b""
            # Feed in slices so that a bomb stops at the cap instead of inflating whole.
            for start in range(0, len(body), 64 * 1024):
                out += decoder.process(body[start : start + 64 * 1024])
                if len(out) > MAX_DECOMPRESSED_BYTES:
                    raise ProtocolError(413, "The decompressed body is larger than 20 MiB.")
            if not decoder.is_finished():
                raise ProtocolError(400, "The compressed body is truncated.")
            return out
    except (zlib.error, brotli.error) as exc:
        raise ProtocolError(400, f"The body is not valid {encoding}: {exc}.") from None
    raise ProtocolError(
        415, f"Unsupported Content-Encoding “{encoding[:40]}”: use gzip, deflate or br."
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _depth(value: Any, limit: int) -> int:
    """Nesting depth, stopping at limit + 1 (iterative: no recursion on hostile input)."""
    if not isinstance(value, dict | list):
        return 1
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        # Only containers go on the stack (a scalar child counts one level, as before).
        children = list(item.values() if isinstance(item, dict) else item)
        nested = [(v, depth + 1) for v in children if isinstance(v, dict | list)]
        if len(nested) < len(children) and depth + 1 > deepest:
            deepest = depth + 1
            if deepest > limit:
                return deepest
        stack.extend(nested)
    return deepest


def loads_strict(raw: bytes, *, what: str) -> Any:
    """JSON with non-finite numbers refused and nesting bounded."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ProtocolError(400, f"The {what} is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(400, f"The {what} is not valid JSON: {str(exc)[:120]}.") from None
    if _depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ProtocolError(400, f"The {what} is nested deeper than {MAX_JSON_DEPTH} levels.")
    return value


def _event_object(value: Any, *, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(400, f"The {what} must be a JSON object.")
    return value


def parse_store(body: bytes) -> dict[str, Any]:
    """The event of a legacy store request."""
    if len(body) > MAX_EVENT_BYTES:
        raise ProtocolError(413, "The event is larger than 1 MiB.")
    return _event_object(loads_strict(body, what="event"), what="event")


def parse_envelope(body: bytes) -> Envelope:
    """The envelope's header and its event payloads (other item types counted as ignored)."""
    header_line, sep, rest = body.partition(b"\n")
    header = loads_strict(header_line, what="envelope header")
    if not isinstance(header, dict):
        raise ProtocolError(400, "The envelope header must be a JSON object.")
    envelope = Envelope(header=header)
    pos, items = 0, 0
    while pos < len(rest):
        if rest[pos : pos + 1] == b"\n":  # blank line between items
            pos += 1
            continue
        items += 1
        if items > MAX_ITEMS:
            raise ProtocolError(400, f"The envelope has more than {MAX_ITEMS} items.")
        end = rest.find(b"\n", pos)
        line = rest[pos:] if end < 0 else rest[pos:end]
        item = loads_strict(line, what="item header")
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise ProtocolError(400, "An item header must be a JSON object with a “type”.")
        pos = len(rest) if end < 0 else end + 1
        length = item.get("length")
        if length is not None:
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise ProtocolError(400, "An item's “length” must be a non-negative integer.")
            if pos + length > len(rest):
                raise ProtocolError(400, "An item's “length” is longer than the envelope.")
            payload = rest[pos : pos + length]
            pos += length
        else:
            end = rest.find(b"\n", pos)
            payload = rest[pos:] if end < 0 else rest[pos:end]
            pos = len(rest) if end < 0 else end
        kind = item["type"]
        if kind in EVENT_ITEM_TYPES:
            if len(payload) > MAX_EVENT_BYTES:
                raise ProtocolError(413, "An event is larger than 1 MiB.")
            envelope.events.append(_event_object(loads_strict(payload, what="event"), what="event"))
        else:
            # Known or unknown, other items are not errors: SDKs send what they send.
            envelope.ignored += 1
    return envelope


def event_id_of(event: dict[str, Any], header: dict[str, Any] | None = None) -> str | None:
    """The event's id as 32 lowercase hex digits (a UUID with or without dashes), or None."""
    for candidate in (event.get("event_id"), (header or {}).get("event_id")):
        if isinstance(candidate, str):
            text = candidate.replace("-", "").lower()
            if _EVENT_ID_RE.match(text):
                return text
    return None
