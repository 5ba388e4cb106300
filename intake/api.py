"""POST /api/v1/projects/<KEY>/events/ — events from monitoring tools."""

from typing import cast

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from ninja import Router, Schema
from pydantic import BaseModel

from accounts.models import User
from api.errors import ApiError, ErrorOut
from api.parser import JsonBodyError, read_json_body
from issues.inputs import parse_id

from .auth import IntakeQueryTokenAuth, IntakeTokenAuth, request_token
from .models import IntakeSettings, Source
from .payloads import (
    MAX_BODY_BYTES,
    AlertmanagerWebhook,
    GenericEvent,
    NormalizedEvent,
    PayloadError,
    SentryIssueAlert,
    parse_events,
)
from .ratelimit import retry_after
from .services import get_intake_settings, ingest_event, touch_token

router = Router(tags=["intake"])


class EventResultOut(Schema):
    group_id: int
    fingerprint: str
    count: int
    issue: str | None
    created_issue: bool
    duplicate: bool
    regression: str | None


class IntakeOut(Schema):
    format: str
    accepted: int
    duplicates: int
    ignored: int
    events: list[EventResultOut]


_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/GenericEvent"},
                        {"$ref": "#/components/schemas/SentryIssueAlert"},
                        {"$ref": "#/components/schemas/AlertmanagerWebhook"},
                    ]
                }
            }
        },
    },
    "parameters": [
        {
            "in": "query",
            "name": "format",
            "required": False,
            "schema": {"type": "string", "enum": [s.value for s in Source]},
            "description": "Force a format instead of detecting it from the payload's shape.",
        }
    ],
}


@router.post(
    "/{key}/events/",
    auth=[IntakeTokenAuth(), IntakeQueryTokenAuth()],
    response={
        200: IntakeOut,
        202: IntakeOut,
        400: ErrorOut,
        401: ErrorOut,
        404: ErrorOut,
        429: ErrorOut,
    },
    summary="Send an event (generic JSON, Sentry issue alert or Alertmanager webhook)",
    description=(
        "Authenticate with a project intake token (`Authorization: Bearer rsi_…`). "
        "Events with the same fingerprint group into one issue. Answers 202 when at least one "
        "event was recorded, 200 when everything was a duplicate (same `event_id`) or ignored "
        "(resolved alerts). Errors are JSON: `{error, detail, field}`."
    ),
    openapi_extra=_BODY_DOC,
)
def post_events(request: HttpRequest, key: str) -> JsonResponse:
    token = request_token(request)
    project = token.project
    if project.key != key.upper() or project.archived_at is not None:
        raise ApiError(404, "not_found", "No such project for this token.")
    try:
        cfg = project.intake_settings
    except IntakeSettings.DoesNotExist:
        cfg = get_intake_settings(project)
    wait = retry_after(f"token:{token.digest[:24]}", limit=cfg.rate_limit_per_minute)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"More than {cfg.rate_limit_per_minute} requests a minute for this token; "
            f"retry in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    fmt = request.GET.get("format") or None
    if fmt is not None and fmt not in Source.values:
        raise ApiError(
            400, "bad_format", "format must be generic, sentry or alertmanager.", field="format"
        )
    events, ignored = _read_events(request, fmt)
    now = timezone.now()
    # The token's creator files issues on the tool's behalf; loaded only when one is filed.
    reporter = cast(User, SimpleLazyObject(lambda: token.created_by))
    results = [
        ingest_event(project, event=e, reporter=reporter, token=token, intake_settings=cfg, now=now)
        for e in events
    ]
    touch_token(token, now=now)
    duplicates = sum(1 for r in results if r.duplicate)
    accepted = len(results) - duplicates
    body = {
        "format": events[0].source if events else (fmt or Source.ALERTMANAGER),
        "accepted": accepted,
        "duplicates": duplicates,
        "ignored": ignored,
        "events": [r.as_dict() for r in results],
    }
    # A plain JsonResponse: the body is built above from typed results, so the per-request
    # schema validation ninja would add is skipped on this hot path (documented by IntakeOut).
    return JsonResponse(body, status=202 if accepted else 200)


def _read_events(request: HttpRequest, fmt: str | None) -> tuple[list[NormalizedEvent], int]:
    length = parse_id(request.META.get("CONTENT_LENGTH") or "0")
    if length is None or length > MAX_BODY_BYTES:
        raise _too_large()
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        raise _too_large()
    if not body.strip():
        raise ApiError(400, "empty_body", "Send a JSON object in the body.")
    try:
        data = read_json_body(request)
    except JsonBodyError as exc:
        raise ApiError(exc.status, exc.code, exc.detail) from None
    try:
        return parse_events(data, format=fmt)
    except PayloadError as exc:
        raise ApiError(400, exc.code, exc.detail, field=exc.field) from None


def _too_large() -> ApiError:
    return ApiError(
        400, "body_too_large", f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.", field=""
    )


# Registered so that the OpenAPI document describes the three request formats.
DOCUMENTED_SCHEMAS: dict[str, type[BaseModel]] = {
    "GenericEvent": GenericEvent,
    "SentryIssueAlert": SentryIssueAlert,
    "AlertmanagerWebhook": AlertmanagerWebhook,
}
