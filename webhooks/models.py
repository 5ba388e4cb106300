"""Outgoing webhooks: a project's subscriptions, one delivery per event and subscription, and
every attempt to send it.

Exactly once from Resolve's side, enforced by the database:
- a `Delivery` is unique per (subscription, event) and created in the transaction that claims
  the activity records from the outbox (`notifications.signals.outbox_claimed`);
- it keeps its `webhook_id` and its body for every attempt, so a receiver that dedupes on the
  `webhook-id` header sees it once even when a worker died between the send and the mark;
- a sender owns a delivery only after a conditional UPDATE moved it to "sending"; a killed
  sender's claim expires and the delivery is sent again (same id, same body).
"""

import base64
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


class EventType(models.TextChoices):
    """The `type` of a payload; one JSON shape each (see `webhooks.payloads`)."""

    CREATED = "issue.created", "Issue created"
    ASSIGNED = "issue.assigned", "Issue assigned"
    STATUS_CHANGED = "issue.status_changed", "Status changed"
    COMMENTED = "issue.commented", "Comment added"
    FIELDS_CHANGED = "issue.fields_changed", "Fields changed"
    SLA_AT_RISK = "issue.sla_at_risk", "SLA at risk"
    SLA_BREACHED = "issue.sla_breached", "SLA breached"
    ESCALATED = "issue.escalated", "Escalated to Managers"
    CLOSED = "issue.closed", "Issue closed (with its resolution)"


PING = "ping"


class Format(models.TextChoices):
    STANDARD = "standard", "JSON (Standard Webhooks)"
    CHAT = "chat", "Chat message (Slack, Mattermost, Rocket.Chat incoming webhook)"


class SubscriptionState(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    # Set by Resolve after WEBHOOK_DISABLE_AFTER_HOURS of failures; pending deliveries are
    # kept and go out when a Manager re-enables it.
    DISABLED = "disabled", "Disabled after failing"


def new_secret() -> str:
    """`whsec_` + base64 of 24 random bytes: the Standard Webhooks secret format."""

    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


PAYLOAD_VERSION = 1


class Subscription(models.Model):
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField("Target URL", max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.STANDARD)
    # A list of EventType values; a JSON list so the embedded SQLite default works too.
    event_types = models.JSONField(default=list)
    state = models.CharField(
        max_length=10, choices=SubscriptionState.choices, default=SubscriptionState.ACTIVE
    )
    payload_version = models.PositiveSmallIntegerField(default=PAYLOAD_VERSION)
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    # After a rotation the old secret also signs until then (receivers switch over calmly).
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # First failed attempt since the last success: the endpoint is disabled when it gets old.
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # When a delivery task is already scheduled for this endpoint (no pile of wake-ups).
    wake_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when a sender task is queued, cleared when it starts: a burst of events queues one
    # task per endpoint, not one per outbox batch.
    sender_queued_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["project", "id"]
        indexes = [models.Index(fields=["project", "state"], name="webhook_sub_project_state")]

    def __str__(self) -> str:
        return f"Webhook {self.pk} of project {self.project_id}: {self.url}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed"


UNFINISHED = (DeliveryState.PENDING, DeliveryState.SENDING)


def new_webhook_id() -> str:
    return "msg_" + secrets.token_hex(16)


class Delivery(models.Model):
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The activity record it announces (none for a ping).
    event = models.ForeignKey(
        "issues.IssueEvent", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Per issue, deliveries to one endpoint go out in event order (see services).
    issue = models.ForeignKey(
        "issues.Issue", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    type = models.CharField(max_length=40)
    webhook_id = models.CharField(max_length=40, unique=True, default=new_webhook_id)
    # The exact JSON sent on every attempt (only the signature's timestamp changes).
    body = models.TextField()
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    give_up_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the event happened (the delay figure in `make bench` is delivered_at - this).
    event_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event"],
                condition=Q(event__isnull=False),
                name="one_delivery_per_event_and_subscription",
            )
        ]
        indexes = [
            # The sender's claim: this endpoint's unfinished deliveries, oldest first.
            models.Index(
                fields=["subscription", "id"],
                name="webhook_delivery_unfinished",
                condition=Q(state__in=["pending", "sending"]),
            ),
            # Order per issue: "is an earlier one of this issue still unfinished?"
            models.Index(
                fields=["subscription", "issue", "id"],
                name="webhook_delivery_issue_order",
                condition=Q(state__in=["pending", "sending"]),
            ),
            models.Index(fields=["subscription", "-id"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.webhook_id} to {self.subscription_id}: {self.state}"


class Attempt(models.Model):
    """One try: when, the HTTP status (none for a timeout or refused connection), how long it
    took and the first kilobyte of the answer."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=10, choices=DeliveryState.choices)

    class Meta:
        ordering = ["delivery", "id"]
        indexes = [models.Index(fields=["delivery", "id"], name="webhook_attempt_delivery")]

    def __str__(self) -> str:
        return f"Attempt on {self.delivery_id} at {self.at}: {self.status_code or self.error}"
