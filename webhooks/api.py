"""`/api/v1/projects/<KEY>/webhooks` — a project's webhooks for scripts (personal tokens of
the project's Managers; the pages' rules: another project answers 404, a non-Manager 403).
Writes go through `webhooks.services`, like the settings page."""

from datetime import datetime
from typing import Literal

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from api.auth import PersonalTokenAuth, token_user
from api.errors import ApiError, ErrorOut
from projects.models import Project

from . import selectors, services
from .models import Delivery, EventType, Format, Subscription

router = Router(tags=["webhooks"], auth=PersonalTokenAuth())

EventTypeName = Literal[tuple(EventType.values)]  # type: ignore[valid-type]
FormatName = Literal[tuple(Format.values)]  # type: ignore[valid-type]


class SubscriptionIn(Schema):
    url: str = Field(..., max_length=2000)
    event_types: list[EventTypeName] = Field(default_factory=lambda: list(EventType.values))  # type: ignore[valid-type]
    format: FormatName = Format.STANDARD  # type: ignore[valid-type]
    description: str = Field("", max_length=200)
    active: bool = True


class SubscriptionPatch(Schema):
    url: str | None = Field(None, max_length=2000)
    event_types: list[EventTypeName] | None = None  # type: ignore[valid-type]
    format: FormatName | None = None  # type: ignore[valid-type]
    description: str | None = Field(None, max_length=200)
    active: bool | None = None


class SubscriptionOut(Schema):
    id: int
    url: str
    event_types: list[str]
    format: str
    description: str
    state: str = Field(..., description="active, paused or disabled (by Resolve, after failing)")
    payload_version: int
    failing_since: datetime | None
    created_at: datetime


class SecretOut(SubscriptionOut):
    secret: str = Field(..., description="Shown only in this answer: store it now")
    previous_secret_valid_until: datetime | None


class AttemptOut(Schema):
    at: datetime
    status_code: int | None
    duration_ms: int
    response_excerpt: str
    error: str


class DeliveryOut(Schema):
    id: int
    webhook_id: str
    type: str
    state: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime
    log: list[AttemptOut]


def _out(sub: Subscription) -> dict:
    return {
        "id": sub.pk,
        "url": sub.url,
        "event_types": sub.event_types,
        "format": sub.format,
        "description": sub.description,
        "state": sub.state,
        "payload_version": sub.payload_version,
        "failing_since": sub.failing_since,
        "created_at": sub.created_at,
    }


def _delivery_out(d: Delivery) -> dict:
    return {
        "id": d.pk,
        "webhook_id": d.webhook_id,
        "type": d.type,
        "state": d.state,
        "attempts": d.attempts,
        "created_at": d.created_at,
        "delivered_at": d.delivered_at,
        "next_attempt_at": d.next_attempt_at,
        "log": [
            {
                "at": a.at,
                "status_code": a.status_code,
                "duration_ms": a.duration_ms,
                "response_excerpt": a.response_excerpt,
                "error": a.error,
            }
            for a in d.attempt_log.all()
        ],
    }


def _project(request: HttpRequest, key: str) -> Project:
    try:
        return selectors.managed_project(token_user(request), key)
    except PermissionDenied as e:
        raise ApiError(403, "forbidden", str(e)) from None


def _refused(error: services.SubscriptionError) -> ApiError:
    return ApiError(400, "invalid_field", str(error), field=error.field or "")


_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}


@router.get(
    "/{key}/webhooks", response={200: list[SubscriptionOut], **_ERRORS}, summary="List webhooks"
)
def list_webhooks(request: HttpRequest, key: str) -> list[dict]:
    return [_out(s) for s in selectors.subscriptions_of(_project(request, key))]


@router.post("/{key}/webhooks", response={201: SecretOut, **_ERRORS}, summary="Add a webhook")
def add_webhook(request: HttpRequest, key: str, payload: SubscriptionIn) -> Status:
    project = _project(request, key)
    try:
        sub = services.create_subscription(
            project,
            actor=token_user(request),
            url=payload.url,
            event_types=payload.event_types,
            format=payload.format,
            description=payload.description,
            active=payload.active,
        )
    except services.SubscriptionError as e:
        raise _refused(e) from None
    return Status(201, {**_out(sub), "secret": sub.secret, "previous_secret_valid_until": None})


@router.get(
    "/{key}/webhooks/{pk}", response={200: SubscriptionOut, **_ERRORS}, summary="Read a webhook"
)
def get_webhook(request: HttpRequest, key: str, pk: int) -> dict:
    return _out(selectors.get_subscription(_project(request, key), pk))


@router.patch(
    "/{key}/webhooks/{pk}", response={200: SubscriptionOut, **_ERRORS}, summary="Change a webhook"
)
def change_webhook(request: HttpRequest, key: str, pk: int, payload: SubscriptionPatch) -> dict:
    sub = selectors.get_subscription(_project(request, key), pk)
    try:
        sub = services.update_subscription(
            sub,
            actor=token_user(request),
            url=sub.url if payload.url is None else payload.url,
            event_types=sub.event_types if payload.event_types is None else payload.event_types,
            format=payload.format or sub.format,
            description=sub.description if payload.description is None else payload.description,
            active=(sub.state == "active") if payload.active is None else payload.active,
        )
    except services.SubscriptionError as e:
        raise _refused(e) from None
    return _out(sub)


@router.post(
    "/{key}/webhooks/{pk}/rotate-secret",
    response={200: SecretOut, **_ERRORS},
    summary="Rotate a webhook's secret (the old one signs too for 24 h)",
)
def rotate_webhook_secret(request: HttpRequest, key: str, pk: int) -> dict:
    sub = selectors.get_subscription(_project(request, key), pk)
    secret = services.rotate_secret(sub, actor=token_user(request))
    sub.refresh_from_db()
    return {**_out(sub), "secret": secret, "previous_secret_valid_until": sub.previous_secret_until}


@router.post(
    "/{key}/webhooks/{pk}/ping", response={202: DeliveryOut, **_ERRORS}, summary="Send a test ping"
)
def ping_webhook(request: HttpRequest, key: str, pk: int) -> Status:
    sub = selectors.get_subscription(_project(request, key), pk)
    delivery = services.send_ping(sub, actor=token_user(request))
    return Status(202, {**_delivery_out(delivery), "log": []})


@router.get(
    "/{key}/webhooks/{pk}/deliveries",
    response={200: list[DeliveryOut], **_ERRORS},
    summary="A webhook's newest 50 deliveries with every attempt",
)
def list_deliveries(request: HttpRequest, key: str, pk: int) -> list[dict]:
    sub = selectors.get_subscription(_project(request, key), pk)
    return [_delivery_out(d) for d in selectors.delivery_log(sub)]


@router.post(
    "/{key}/webhooks/{pk}/deliveries/{delivery_id}/redeliver",
    response={202: DeliveryOut, **_ERRORS},
    summary="Send a finished delivery again (same webhook-id)",
)
def redeliver_delivery(request: HttpRequest, key: str, pk: int, delivery_id: int) -> Status:
    sub = selectors.get_subscription(_project(request, key), pk)
    delivery = selectors.get_delivery(sub, delivery_id)
    try:
        delivery = services.redeliver(delivery, actor=token_user(request))
    except services.SubscriptionError as e:
        raise ApiError(409, "still_sending", str(e)) from None
    return Status(202, {**_delivery_out(delivery), "log": []})
