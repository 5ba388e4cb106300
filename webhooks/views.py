"""Thin views: a project's webhooks (Managers only), one webhook's settings and log."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import SubscriptionForm
from .models import EventType


def _with_secret(request, template: str, context: dict, secret: str) -> HttpResponse:
    """The secret is shown once, in this answer only (never stored in the session)."""
    response = render(request, template, {**context, "secret": secret})
    response["Cache-Control"] = "no-store"
    return response


def _apply_error(form: SubscriptionForm, error: services.SubscriptionError) -> None:
    form.add_error(error.field if error.field in form.fields else None, str(error))


@login_required
def webhook_list(request: HttpRequest, key: str) -> HttpResponse:
    project = selectors.managed_project(request.user, key)
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            sub = services.create_subscription(
                project,
                actor=request.user,
                url=data["url"],
                event_types=data["event_types"],
                format=data["format"],
                description=data["description"],
                active=data["active"],
            )
        except services.SubscriptionError as e:
            _apply_error(form, e)
        else:
            messages.success(request, "Webhook created. Copy its secret now: it is shown once.")
            return _with_secret(
                request,
                "webhooks/detail.html",
                _detail_context(sub, SubscriptionForm.for_subscription(sub)),
                sub.secret,
            )
    return render(
        request,
        "webhooks/list.html",
        {
            "project": project,
            "subscriptions": list(selectors.subscriptions_of(project)),
            "form": form,
            "event_labels": dict(EventType.choices),
        },
        status=400 if form.errors else 200,
    )


def _detail_context(sub, form) -> dict:
    return {
        "project": sub.project,
        "subscription": sub,
        "form": form,
        "log": selectors.delivery_log(sub),
    }


@login_required
def webhook_detail(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    project = selectors.managed_project(request.user, key)
    sub = selectors.get_subscription(project, pk)
    form = SubscriptionForm.for_subscription(sub, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_subscription(
                sub,
                actor=request.user,
                url=data["url"],
                event_types=data["event_types"],
                format=data["format"],
                description=data["description"],
                active=data["active"],
            )
        except services.SubscriptionError as e:
            _apply_error(form, e)
        else:
            messages.success(request, "Webhook saved.")
            return redirect("webhook_detail", key=project.key, pk=sub.pk)
    return render(
        request,
        "webhooks/detail.html",
        _detail_context(sub, form),
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def webhook_ping(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    project = selectors.managed_project(request.user, key)
    sub = selectors.get_subscription(project, pk)
    services.send_ping(sub, actor=request.user)
    messages.success(request, "Test ping queued; its attempt appears in the log below.")
    return redirect("webhook_detail", key=project.key, pk=sub.pk)


@login_required
@require_POST
def webhook_rotate(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    project = selectors.managed_project(request.user, key)
    sub = selectors.get_subscription(project, pk)
    secret = services.rotate_secret(sub, actor=request.user)
    sub.refresh_from_db()
    messages.success(
        request, "New secret created. The old one keeps signing for 24 hours: switch over."
    )
    return _with_secret(
        request,
        "webhooks/detail.html",
        _detail_context(sub, SubscriptionForm.for_subscription(sub)),
        secret,
    )


@login_required
@require_POST
def webhook_redeliver(request: HttpRequest, key: str, pk: int, delivery: int) -> HttpResponse:
    project = selectors.managed_project(request.user, key)
    sub = selectors.get_subscription(project, pk)
    found = selectors.get_delivery(sub, delivery)
    try:
        services.redeliver(found, actor=request.user)
    except services.SubscriptionError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"Delivery {found.webhook_id} queued again (same webhook-id).")
    return redirect("webhook_detail", key=project.key, pk=sub.pk)
