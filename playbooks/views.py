"""Thin views: ticking a playbook item, and the project's template settings pages."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from issues.inputs import parse_id
from issues.selectors import get_issue_for_user

from .services import PlaybookError, tick_item
from .templatetags.playbook_tags import checklist_context


@login_required
@require_POST
def tick(request: HttpRequest, key: str, item_id: int) -> HttpResponse:
    """Tick (`done=1`) or untick (`done=0`) an item: the checklist for htmx, else back to the
    issue. An issue the user cannot see is a 404 (the access selector)."""
    issue = get_issue_for_user(request.user, key)
    error = ""
    status = 200
    try:
        tick_item(issue, parse_id(str(item_id)) or 0, actor=request.user, done=_done(request))
    except PlaybookError as e:
        error, status = str(e), e.status_code
    if request.headers.get("HX-Request"):
        context = {**checklist_context(issue, request.user), "error": error}
        return render(request, "playbooks/_checklist.html", context, status=status)
    if error:
        messages.error(request, error)
    return redirect(issue)


def _done(request: HttpRequest) -> bool:
    return request.POST.get("done", "1") not in ("0", "false", "")
