"""Webhook reads: the one access rule (a Manager of a project they can see) and the log."""

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from accounts.actors import Viewer
from projects.models import Project
from projects.selectors import get_project_for_user, is_manager

from .models import Attempt, Delivery, DeliveryState, Subscription

LOG_SIZE = 50


def managed_project(user: Viewer, key: str) -> Project:
    """The project if the user may manage its webhooks: 404 when they cannot see it, 403
    when they can but are not a Manager."""
    project = get_project_for_user(user, key)
    if not is_manager(user, project):
        raise PermissionDenied("Only a Manager of the project may manage its webhooks.")
    return project


def subscriptions_of(project: Project) -> QuerySet[Subscription]:
    return Subscription.objects.filter(project=project).annotate(
        pending=Count(
            "deliveries", filter=Q(deliveries__state__in=[DeliveryState.PENDING, "sending"])
        ),
    )


def get_subscription(project: Project, pk: int) -> Subscription:
    try:
        return Subscription.objects.select_related("project").get(project=project, pk=pk)
    except Subscription.DoesNotExist:
        raise Http404("No such webhook.") from None


def get_delivery(subscription: Subscription, pk: int) -> Delivery:
    try:
        return Delivery.objects.get(subscription=subscription, pk=pk)
    except Delivery.DoesNotExist:
        raise Http404("No such delivery.") from None


def delivery_log(subscription: Subscription, *, limit: int = LOG_SIZE) -> list[Delivery]:
    """The newest deliveries with every attempt (two queries)."""
    return list(
        Delivery.objects.filter(subscription=subscription)
        .defer("body")
        .order_by("-id")
        .prefetch_related(Prefetch("attempt_log", queryset=Attempt.objects.order_by("id")))[:limit]
    )
