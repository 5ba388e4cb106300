"""Reading: the list with the list page's filters (`IssueListQuery` documents them), one issue."""

from datetime import date

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Schema, Status

from api.auth import token_user
from customfields.selectors import api_values_for
from issues.filters import IssueFilter
from issues.limits import (
    SEARCH_MAX_CHARS,
)
from issues.pagination import CappedPaginator
from issues.selectors import issues_visible_to

from ..errors import ApiError, ErrorOut
from .schemas import IssueDetailOut, IssuePageOut, router
from .shaping import _visible_issue, issue_detail_out, issue_summary_out

PAGE_SIZES = (25, 50, 100)  # as the list page offers


class IssueListQuery(Schema):
    """The list page's filters (`issues.filters.IssueFilter`), as query parameters; repeat a
    parameter for several values (`status=new&status=assigned`). Custom fields filter as on
    the page: `cf_<slug>=<choice id>` (choices, several allowed), `cf_<slug>=<username>`,
    `cf_<slug>_min` / `_max` (numbers), `cf_<slug>_after` / `_before` (dates),
    `cf_<slug>=yes|no` (checkboxes)."""

    q: str | None = Field(
        None,
        max_length=SEARCH_MAX_CHARS,
        description="Full-text search (title, description, comments)",
    )
    project: list[str] = Field([], description="Project ids (several allowed)")
    status: list[str] = Field([], description="new, assigned, revise, retest, fixed, closed")
    type: list[str] = Field([], description="bug, feature, task, improvement …")
    priority: list[str] = Field([], description="1 low … 3 high")
    severity: list[str] = Field([], description="1 trivial … 4 critical")
    owner: str | None = Field(None, description="A user id, `me` or `unassigned`")
    reporter: str | None = Field(None, description="A user id or `me`")
    team: str | None = Field(None, description="A team id")
    component: str | None = Field(None, description="A component id")
    affected_version: str | None = Field(None, description="A version id")
    fix_version: str | None = Field(None, description="A version id")
    label: str | None = Field(None, description="A label name (case-insensitive)")
    sla: str | None = Field(None, description="on_track, at_risk, breached, paused, none")
    created_after: date | None = None
    created_before: date | None = None
    updated_after: date | None = None
    updated_before: date | None = None
    keys: str | None = Field(None, description="Explicit issues, e.g. WEB-1,WEB-7")
    sort: str | None = Field(
        None, description="key, priority, severity, status, owner, due, updated, created; -x"
    )
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, description="25, 50 or 100")


@router.get(
    "",
    response={200: IssuePageOut, 400: ErrorOut, 401: ErrorOut},
    summary="List issues with the list page's filters (paginated)",
)
def list_issues(request: HttpRequest, filters: Query[IssueListQuery]) -> Status:
    if filters.per_page not in PAGE_SIZES:
        raise ApiError(400, "invalid_field", "“per_page”: 25, 50 or 100.", field="per_page")
    base = (
        issues_visible_to(token_user(request))
        .select_related("project", "owner", "reporter", "team", "component")
        .select_related("affected_version", "fix_version")
        .defer("description", "resolution_summary", "lessons_learned")
    )
    filterset = IssueFilter(request.GET, queryset=base, request=request)
    if not filterset.is_valid():
        field, errors = next(iter(filterset.errors.items()))
        raise ApiError(400, "invalid_field", f"“{field}”: {errors[0]}", field=field)
    paginator = CappedPaginator(
        filterset.qs.prefetch_related("labels"), filters.per_page, cap=filterset.count_cap
    )
    page = paginator.get_page(filters.page)
    rows = list(page)
    custom = api_values_for(rows)
    now = timezone.now()
    return Status(
        200,
        {
            "count": paginator.count,
            "count_capped": paginator.capped,
            "page": page.number,
            "per_page": filters.per_page,
            "pages": paginator.num_pages,
            "next_page": page.next_page_number() if page.has_next() else None,
            "results": [issue_summary_out(request, issue, now, custom) for issue in rows],
        },
    )


@router.get(
    "/{key}",
    response={200: IssueDetailOut, 401: ErrorOut, 404: ErrorOut},
    summary="Read one issue with its comments, SLA state and SLA summary",
)
def read_issue(request: HttpRequest, key: str) -> Status:
    return Status(200, issue_detail_out(request, _visible_issue(request, key)))
