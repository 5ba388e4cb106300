"""The endpoints Sentry SDKs send to: `/api/<project id>/envelope/` and `/api/<project id>/store/`.

Plain Django views, not the JSON API: SDKs speak their own protocol (envelopes, compressed
bodies, `X-Sentry-Auth`) and expect its answers — 200 with `{"id": …}`, 429 with
`Retry-After` and `X-Sentry-Rate-Limits`, and errors as `{"detail": …}`.
"""

from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .models import DsnKey, IntakeSettings
from .ratelimit import retry_after
from .sdk import accept_sdk_events
from .sdk_keys import dsn_key_with_settings
from .sdk_protocol import (
    MAX_BODY_BYTES,
    ProtocolError,
    decompress,
    event_id_of,
    key_from_auth_header,
    key_from_dsn,
    parse_envelope,
    parse_store,
    read_chunked,
    valid_key,
)
from .services import get_intake_settings


def _error(status: int, detail: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _read_body(request: HttpRequest) -> bytes:
    """The raw body, refused with 413 before reading (or decompressing) when too large."""
    if not request.META.get("CONTENT_LENGTH") and "chunked" in (
        request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    ):
        body = _read_chunked(request)
    else:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ProtocolError(400, "Content-Length is not a number.") from None
        if declared > MAX_BODY_BYTES:
            raise ProtocolError(413, "The body is larger than 10 MiB.")
        body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise ProtocolError(413, "The body is larger than 10 MiB.")
    return decompress(body, request.META.get("HTTP_CONTENT_ENCODING", ""))


def _read_chunked(request: HttpRequest) -> bytes:
    """A chunked body (no Content-Length), which Django alone reads as empty."""
    stream = request.META["wsgi.input"]  # META is the WSGI environ
    if request.META.get("wsgi.input_terminated"):  # gunicorn: already decoded, ends at EOF
        return stream.read(MAX_BODY_BYTES + 1)
    if isinstance(stream, LimitedStream):  # Django's development server: the raw connection
        # Its zero-length window hides the connection's own read/readline (what it wraps).
        return read_chunked(
            stream._readline,  # type: ignore[attr-defined]
            stream._read,  # type: ignore[attr-defined]
            MAX_BODY_BYTES,
        )
    raise ProtocolError(411, "Send the body with a Content-Length.")


def _key(request: HttpRequest) -> str | None:
    for raw in (request.META.get("HTTP_X_SENTRY_AUTH"), request.META.get("HTTP_AUTHORIZATION")):
        if raw and raw.strip()[:7].lower() == "sentry ":
            return key_from_auth_header(raw)
    return request.GET.get("sentry_key") or None


def _dsn_key(public_key: str | None, project_id: int) -> DsnKey:
    if not valid_key(public_key):
        raise ProtocolError(401, "Missing or malformed sentry_key: use the project's DSN.")
    key = dsn_key_with_settings(public_key)
    if key is None or key.revoked_at is not None:
        raise ProtocolError(401, "This DSN key is unknown or revoked.")
    if key.project_id != project_id:
        raise ProtocolError(403, "This DSN key belongs to another project.")
    if key.project.archived_at is not None:
        raise ProtocolError(403, "The project is archived.")
    return key


def _settings(key: DsnKey) -> IntakeSettings:
    try:
        return key.project.intake_settings
    except IntakeSettings.DoesNotExist:
        return get_intake_settings(key.project)


def _limited(key: DsnKey, cfg: IntakeSettings) -> JsonResponse | None:
    wait = retry_after(f"dsn:{key.public_key}", limit=cfg.rate_limit_per_minute)
    if wait is None:
        return None
    # "<seconds>::<scope>": every category, the SDKs stop sending for that long.
    return _error(
        429,
        f"More than {cfg.rate_limit_per_minute} events a minute; retry in {wait} s.",
        Retry_After=str(wait),
        X_Sentry_Rate_Limits=f"{wait}::project",
    )


def _ingest(request: HttpRequest, project_id: int, *, envelope: bool) -> JsonResponse:
    try:
        # The key from the headers or the query is checked before the body is decompressed.
        public_key = _key(request)
        key = _dsn_key(public_key, project_id) if public_key else None
        if key is None and not envelope:
            raise ProtocolError(401, "Missing sentry_key: use the project's DSN.")
        body = _read_body(request)
        try:
            if envelope:
                parsed = parse_envelope(body)
                header, events = parsed.header, parsed.events
            else:
                header, events = {}, [parse_store(body)]
        except ProtocolError:
            if key is None:  # no credentials at all: that is the answer, not the body
                raise ProtocolError(401, "Missing sentry_key: use the project's DSN.") from None
            raise
        if key is None:
            key = _dsn_key(key_from_dsn(header.get("dsn")), project_id)
        cfg = _settings(key)
        limited = _limited(key, cfg)
        if limited is not None:
            return limited
        pairs = []
        for event in events:
            event_id = event_id_of(event, header if len(events) == 1 else None)
            if event_id is None:
                raise ProtocolError(400, "An event has no valid event_id (32 hex digits).")
            pairs.append((event_id, event))
    except ProtocolError as exc:
        return _error(exc.status, str(exc))
    accepted = accept_sdk_events(key, events=pairs, intake_settings=cfg) if pairs else None
    first = accepted.event_ids[0] if accepted else event_id_of({}, header)
    return JsonResponse({"id": first} if first else {})


def _cors(response: JsonResponse) -> JsonResponse:
    # Browser SDKs post from the application's own origin; the key, not cookies, authorises.
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Headers"] = "Content-Type, X-Sentry-Auth, Content-Encoding"
    response["Access-Control-Expose-Headers"] = "Retry-After, X-Sentry-Rate-Limits"
    return response


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def envelope(request: HttpRequest, project_id: int) -> JsonResponse:
    if request.method == "OPTIONS":
        return _cors(JsonResponse({}))
    return _cors(_ingest(request, project_id, envelope=True))


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def store(request: HttpRequest, project_id: int) -> JsonResponse:
    if request.method == "OPTIONS":
        return _cors(JsonResponse({}))
    return _cors(_ingest(request, project_id, envelope=False))
