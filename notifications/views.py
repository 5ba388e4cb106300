from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from issues.selectors import get_issue_for_user

from . import selectors, services
from .forms import PreferencesForm


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    notes = selectors.inbox_for(request.user)
    unread_only = request.GET.get("unread") == "1"
    if unread_only:
        notes = notes.filter(read_at__isnull=True)
    page = Paginator(notes, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/inbox.html",
        {
            "page": page,
            "unread_only": unread_only,
            "unread": selectors.unread_count(request.user),
        },
    )


@login_required
@require_POST
def read(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(selectors.inbox_for(request.user), pk=pk)
    services.mark_read(note, user=request.user)
    return redirect("notification_inbox")


@login_required
@require_POST
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark read and go to what it is about."""
    note = get_object_or_404(selectors.inbox_for(request.user), pk=pk)
    services.mark_read(note, user=request.user)
    return redirect(note.issue.get_absolute_url() if note.issue else "notification_inbox")


@login_required
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    count = services.mark_all_read(request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} as read.")
    return redirect("notification_inbox")


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    rows = selectors.preference_rows(request.user)
    current = {r.kind: r.mode for r in rows}
    form = PreferencesForm(request.POST or None, current=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_preferences(request.user, modes=form.cleaned_data)
        except services.NotificationError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Notification preferences saved.")
            return redirect("notification_preferences")
    return render(
        request,
        "notifications/preferences.html",
        {"form": form, "forced": [r for r in rows if r.forced]},
    )


@login_required
def issue_notified(request: HttpRequest, key: str) -> HttpResponse:
    """Who hears about each kind of change to one issue. The issue page loads it when its
    "Who is notified" panel is opened (htmx: the card alone); without JavaScript the panel
    links here (a page). Six queries the issue page no longer runs on every view."""
    issue = get_issue_for_user(request.user, key)
    context = {"issue": issue, "rows": selectors.who_is_notified(issue, viewer=request.user)}
    if request.headers.get("HX-Request"):
        return render(request, "notifications/_who_is_notified.html", context)
    return render(request, "notifications/issue_notified.html", context)
