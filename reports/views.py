"""The managers' dashboard: filters in the query string, every section computed in SQL."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from notifications.selectors import sla_sweep_status
from projects.selectors import projects_visible_to

from . import dashboard, selectors
from .forms import DashboardFilterForm
from .selectors import Scope

# At most this many issues are handed to the issue list as `?keys=`; more are listed here.
DRILL_KEYS_LIMIT = 200


def _filters(request: HttpRequest) -> tuple[DashboardFilterForm, Scope]:
    """The filter form (bound when the query string has filters) and the scope it selects.

    Bad values are reported next to their field and the page falls back to the defaults
    (every visible project, the last 30 days) rather than failing."""
    projects = projects_visible_to(request.user).order_by("key")
    keys = set(DashboardFilterForm.base_fields)
    bound = any(k in request.GET for k in keys)
    form = DashboardFilterForm(request.GET if bound else None, projects=projects)
    data = form.cleaned_data if bound and form.is_valid() else {}
    first, last = form.period() if data else DashboardFilterForm(projects=projects).period()
    form.show_period(first, last)
    team = data.get("team")
    scope = Scope(
        user=request.user,
        first_day=first,
        last_day=last,
        tz=timezone.get_current_timezone(),
        now=timezone.now(),
        project_ids=tuple(p.pk for p in data.get("project") or ()),
        team_id=team.pk if team else None,
        type=data.get("type") or "",
        severity=data.get("severity"),
    )
    return form, scope


@login_required
def dashboard_page(request: HttpRequest) -> HttpResponse:
    form, scope = _filters(request)
    search = request.GET.get("q", "")[:200]
    sections = dashboard.build(scope, search=search)
    query = urlencode(dashboard.filter_params(scope))
    return render(
        request,
        "reports/dashboard.html",
        {
            "form": form,
            "scope": scope,
            "sections": sections,
            "query": query,
            "filter_params": dashboard.filter_params(scope),
            "search": search,
            "sweep": sla_sweep_status(scope.now),
            # The charts' text equivalent: every chart as its table (works without JS).
            "as_tables": request.GET.get("view") == "tables",
        },
    )


@login_required
def table_csv(request: HttpRequest, slug: str) -> HttpResponse:
    _form, scope = _filters(request)
    table = dashboard.build_table(scope, slug, search=request.GET.get("q", "")[:200])
    if table is None:
        raise Http404("No such table.")
    filename = f"resolve-{slug}-{scope.first_day.isoformat()}-{scope.last_day.isoformat()}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(table.csv_columns or table.columns)
    for row in table.rows:
        writer.writerow([_safe_csv(cell.csv) for cell in row])
    return response


def _safe_csv(value: object) -> object:
    """Keep spreadsheet programs from running user text as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@login_required
def drill(request: HttpRequest) -> HttpResponse:
    """Exactly the issues behind one number: handed to the issue list as `?keys=`."""
    metric = request.GET.get("metric", "")
    if metric not in selectors.DRILL_METRICS:
        raise Http404("No such metric.")
    _form, scope = _filters(request)
    issues = selectors.drill_issues(scope, metric, request.GET.dict())
    found = list(
        issues.order_by("project__key", "number").values_list("project__key", "number")[
            : DRILL_KEYS_LIMIT + 1
        ]
    )
    keys = [f"{project}-{number}" for project, number in found]
    if keys and len(keys) <= DRILL_KEYS_LIMIT:
        return redirect(f"{reverse('issue_list')}?{urlencode({'keys': ','.join(keys)})}")
    shown = issues.select_related("project", "owner").order_by("project__key", "number")[
        :DRILL_KEYS_LIMIT
    ]
    return render(
        request,
        "reports/drill.html",
        {
            "issues": shown,
            "more": len(keys) > DRILL_KEYS_LIMIT,
            "limit": DRILL_KEYS_LIMIT,
            "back": f"{reverse('reports:dashboard')}?{urlencode(dashboard.filter_params(scope))}",
        },
    )
