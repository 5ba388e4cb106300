"""Board pages. Thin: the cards come from the list's filterset and `boards.selectors`; a move is
`workflows.services.transition_issue`, exactly as the issue page's buttons."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, url_has_allowed_host_and_scheme

from issues.filters import IssueFilter
from issues.models import Issue, Status
from issues.selectors import get_issue_for_user, issues_visible_for_request
from projects.models import Project, Role
from projects.selectors import get_project_for_user, is_manager, projects_for_request
from workflows import services as workflow_services
from workflows.forms import TransitionForm
from workflows.selectors import available_transitions
from workflows.transitions import find_transition

from . import selectors, services
from .forms import ColumnLimitsForm

# Query parameters of the board itself (the rest are the list's filters); `show_<status>`:
# how many cards that column shows (CARD_PAGE more per "Show more", at most CARD_CAP).
SHOW_PARAMS = {status: f"show_{status}" for status in selectors.LIFECYCLE}
BOARD_PARAMS = ("lanes", "closed", *SHOW_PARAMS.values())
NOT_FILTERS = ("sort", "page", "per_page", *BOARD_PARAMS)
CLOSED_CHOICES = (7, 14, 30, 90)


def _is_partial(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _closed_days(request: HttpRequest) -> int:
    raw = request.GET.get("closed", "")
    days = int(raw) if raw.isdigit() else selectors.CLOSED_DAYS
    return days if 1 <= days <= selectors.MAX_CLOSED_DAYS else selectors.CLOSED_DAYS


def _shown(request: HttpRequest) -> dict[str, int]:
    """Cards asked for per column: a multiple of CARD_PAGE between CARD_PAGE and CARD_CAP."""
    shown = {}
    for status, name in SHOW_PARAMS.items():
        raw = request.GET.get(name, "")
        n = int(raw) if raw.isdigit() else selectors.CARD_PAGE
        pages = -(-n // selectors.CARD_PAGE)  # rounded up
        shown[status] = max(
            selectors.CARD_PAGE, min(pages * selectors.CARD_PAGE, selectors.CARD_CAP)
        )
    return shown


def _scope(request: HttpRequest, key: str | None) -> tuple[Project | None, list[int]]:
    """The board's project (None: all of the user's) and the project ids it covers, from the
    projects the request already loaded (no query of its own)."""
    visible = projects_for_request(request)
    if key is None:
        return None, [p.pk for p in visible if p.archived_at is None]
    project = next((p for p in visible if p.key == key.upper()), None)
    if project is None:
        raise Http404("No such project.")
    return project, [project.pk]


def _poll_validator(request: HttpRequest, ids: list[int]) -> tuple[str, int | None]:
    last, validator = selectors.board_fingerprint(ids)
    raw = f"{validator}|{request.user.pk}|{request.get_full_path()}"
    etag = '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'
    # Last-Modified: the newest change, or the start of the time bucket if that is later.
    bucket_start = int(timezone.now().timestamp() // 300 * 300)
    modified = max(int(last.timestamp()), bucket_start) if last else bucket_start
    return etag, modified


@login_required
def board(request: HttpRequest, key: str | None = None) -> HttpResponse:
    """The board of one project (`key`) or of all the user's projects. The page polls itself
    every 30 s (htmx) with If-None-Match / If-Modified-Since: an unchanged board answers 304
    after one cheap statement (`selectors.board_fingerprint`)."""
    project, ids = _scope(request, key)  # another project's board: 404 whatever the method
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    partial = _is_partial(request)
    etag = modified = None
    if partial:
        etag, modified = _poll_validator(request, ids)
        not_modified = get_conditional_response(request, etag=etag, last_modified=modified)
        if not_modified is not None:
            not_modified["Cache-Control"] = "private, no-cache"
            return not_modified

    data = request.GET.copy()
    for name in NOT_FILTERS:
        data.pop(name, None)
    if project is not None:
        data.pop("project", None)
    base = (
        issues_visible_for_request(request)
        .filter(project_id__in=ids)
        .defer("description", "resolution_summary", "lessons_learned")
    )
    filterset = IssueFilter(data, queryset=base, request=request)
    lanes_by = request.GET.get("lanes", "")
    lanes_by = lanes_by if lanes_by in selectors.LANES else ""
    closed_days = _closed_days(request)
    closed_since = selectors.closed_window(closed_days)
    shown = _shown(request)
    limits = selectors.column_limits(project)
    filters = {k: v for k, v in data.lists() if any(v)}
    if project is not None:
        filters["project"] = [str(project.pk)]
    columns = []
    if ids and filterset.is_valid():
        qs = filterset.qs
        counts = selectors.column_counts(qs, closed_since=closed_since)
        cards = selectors.board_cards(
            qs,
            closed_since=closed_since,
            projects={p.pk: p for p in projects_for_request(request)},
            project_ids=ids,
            with_team=lanes_by == "team",
            shown=shown,
        )
    else:
        counts = {s: (0, False) for s in selectors.LIFECYCLE}
        cards = {s: [] for s in selectors.LIFECYCLE}
    for status in selectors.LIFECYCLE:
        count, capped = counts[status]
        query = {**filters, "status": [status]}
        if status == Status.CLOSED:
            query["updated_after"] = [closed_since.date().isoformat()]
        more = request.GET.copy()
        more[SHOW_PARAMS[status]] = str(
            min(shown[status] + selectors.CARD_PAGE, selectors.CARD_CAP)
        )
        columns.append(
            selectors.Column(
                status=status,
                label=Status(status).label,
                count=count,
                capped=capped,
                limit=limits.get(status),
                list_url=f"{reverse('issue_list')}?{urlencode(query, doseq=True)}",
                shown=shown[status],
                more_url=f"{request.path}?{more.urlencode()}",
            )
        )
    shown = [issue for column in cards.values() for issue in column]
    roles = selectors.roles_of(request.user, ids)
    board_data = selectors.Board(
        columns=columns,
        lanes=selectors.lanes_of(cards, lanes_by),
        moves=selectors.card_moves(request.user, shown, ids, roles=roles),
    )
    context = {
        "project": project,
        "board": board_data,
        "filter": filterset,
        "lanes_by": lanes_by,
        "lane_choices": selectors.LANES,
        "closed_days": closed_days,
        "closed_choices": CLOSED_CHOICES,
        "card_cap": selectors.CARD_CAP,
        "card_page": selectors.CARD_PAGE,
        "count_cap": selectors.COUNT_CAP,
        "rendered_at": timezone.now(),
        "may_set_limits": project is not None
        and (request.user.is_superuser or roles.get(project.pk) == Role.MANAGER),
        "list_url": f"{reverse('issue_list')}?{urlencode(filters, doseq=True)}",
        "empty": not shown,
    }
    template = "boards/_board.html" if partial else "boards/board.html"
    response = render(request, template, context)
    response["Vary"] = "HX-Request, Cookie"
    if partial and etag is not None and modified is not None:
        response["ETag"] = etag
        response["Last-Modified"] = http_date(modified)
        response["Cache-Control"] = "private, no-cache"
    else:
        # The full page shows one-time messages: never answered from a cache.
        response["Cache-Control"] = "no-store"
    return response


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


def _refused(request: HttpRequest, issue: Issue, message: str, *, status: int, back: str):
    if _is_partial(request):
        return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    return render(
        request,
        "boards/move.html",
        {"issue": issue, "error": message, "next": back},
        status=status,
    )


def _panel(request, issue, row, form, *, back: str, status: int = 200) -> HttpResponse:
    template = "boards/_move_panel.html" if _is_partial(request) else "boards/move.html"
    response = render(
        request,
        template,
        {
            "issue": issue,
            "t": row,
            "form": form,
            "to_label": Status(row.target).label,
            "action": reverse("board_move", args=[issue.key, row.target]),
            "next": back,
        },
        status=status,
    )
    response["X-Board-Panel"] = "1"
    return response


@login_required
def board_move(request: HttpRequest, key: str, to: str) -> HttpResponse:
    """A card dropped on another column, or a move from its menu. GET: the transition's
    required fields (the issue page's inline panel). POST: `transition_issue`; refusals keep
    their status (403 forbidden, 409 stale, 400 a missing field)."""
    issue = get_issue_for_user(request.user, key)
    back = _safe_next(request, reverse("project_board", args=[issue.project.key]))
    if to not in Status.values:
        return _refused(request, issue, f"There is no status “{to}”.", status=400, back=back)
    row = find_transition(issue.status, to)
    if request.method != "POST":
        if row is None:
            message = (
                f"{issue.key} is {issue.get_status_display()}; "
                f"it cannot move to {Status(to).label}."
            )
            return _refused(request, issue, message, status=409, back=back)
        if row not in available_transitions(issue, request.user):
            message = f"You may not take “{row.label}” on {issue.key}."
            return _refused(request, issue, message, status=403, back=back)
        return _panel(request, issue, row, TransitionForm(transition=row, issue=issue), back=back)

    expected = issue.status
    data: dict = {}
    form = None
    if row is not None:
        expected = request.POST.get(f"{row.name}-expected_status") or issue.status
        # Fields are read only for a move the user may take: the service then refuses
        # anything else with its own reason ("you may not" beats "fill in the owner").
        allowed = row in available_transitions(issue, request.user)
        if row.fields and expected == issue.status and allowed:
            form = TransitionForm(request.POST, transition=row, issue=issue)
            if not form.is_valid():
                return _panel(request, issue, row, form, back=back, status=400)
            data = form.transition_data()
    else:
        expected = next(
            (v for k, v in request.POST.items() if k.endswith("expected_status")), issue.status
        )
    try:
        workflow_services.transition_issue(
            issue, to, actor=request.user, expected_status=expected, **data
        )
    except workflow_services.WorkflowError as e:
        if form is not None and row is not None and e.field and e.field in form.fields:
            form.add_error(e.field, str(e))
            return _panel(request, issue, row, form, back=back, status=400)
        return _refused(request, issue, str(e), status=e.status_code, back=back)
    done = f"{issue.key} is now {issue.get_status_display()}."
    if _is_partial(request):
        return HttpResponse(done, content_type="text/plain; charset=utf-8")
    messages.success(request, done)
    return redirect(back)


@login_required
def column_limits(request: HttpRequest, key: str) -> HttpResponse:
    """A project's WIP limits, per column (Managers)."""
    project = get_project_for_user(request.user, key)
    if not is_manager(request.user, project):
        raise PermissionDenied("Only a Manager of the project may set WIP limits.")
    current = selectors.column_limits(project)
    form = ColumnLimitsForm(request.POST or None, current=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_column_limits(project, actor=request.user, limits=dict(form.cleaned_data))
        except workflow_services.WorkflowError as e:
            form.add_error(e.field if e.field in form.fields else None, str(e))
        else:
            messages.success(request, f"WIP limits of {project.key} saved.")
            return redirect("project_board", key=project.key)
    return render(
        request,
        "boards/limits.html",
        {"project": project, "form": form},
        status=400 if form.errors else 200,
    )
