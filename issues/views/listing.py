"""The issue list: filters, columns, CSV export, bulk edit and saved filters."""

import csv
from itertools import batched
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from customfields.selectors import (
    FieldSpec,
    cells_for,
    export_values,
    field_specs_for_request,
    fields_visible_to,
)
from playbooks.selectors import (
    with_checklist_progress,
)
from projects.selectors import member_by_handle
from workflows.activity import reason_value
from workflows.issue_use_cases import bulk_update_issues

from ..filters import IssueFilter
from ..forms import (
    BulkForm,
    SaveFilterForm,
)
from ..inputs import parse_id
from ..models import OPEN_STATUSES, Issue, SavedFilter
from ..pagination import CappedPaginator
from ..selectors import (
    attach_label_names,
    issues_visible_for_request,
    issues_visible_to,
    parse_issue_key,
    saved_filters_of,
)
from ..services import (
    IssueError,
    delete_saved_filter,
    save_filter,
)
from .common import _safe_next

PAGE_SIZES = (25, 50, 100)
BUILTIN_FILTERS = [
    ("My open issues", urlencode({"owner": "me", "status": list(OPEN_STATUSES)}, doseq=True)),
    ("Reported by me", "reporter=me"),
    (
        "Unassigned critical",
        urlencode(
            {"owner": "unassigned", "severity": 4, "status": list(OPEN_STATUSES)}, doseq=True
        ),
    ),
    ("SLA breached", "sla=breached"),
]


def _filtered(request: HttpRequest, *related: str, page: bool = False) -> IssueFilter:
    """The list's filters over the issues the user may see, joined with `related` (only what
    the page shows: each join costs the planner time on every request); the list page
    (`page`) offers the custom-field filters too."""
    base = (
        issues_visible_for_request(request)
        .select_related(*related)
        .defer("description", "description_html", "resolution_summary", "lessons_learned")
    )
    return IssueFilter(request.GET, queryset=base, request=request, with_custom_fields=page)


MAX_CUSTOM_COLUMNS = 8


def _chosen_columns(request: HttpRequest) -> list[FieldSpec]:
    """The custom columns switched on (`?columns=slug1,slug2` or repeated `columns`), among
    the fields of projects the user sees: one spec per slug (the cells read each issue's own
    project's field of that slug)."""
    wanted: list[str] = []
    for value in request.GET.getlist("columns"):
        wanted += [slug.strip() for slug in value.split(",") if slug.strip()]
    specs = field_specs_for_request(request)
    known = {s.slug for s in specs}
    slugs = [slug for slug in dict.fromkeys(wanted) if slug in known][:MAX_CUSTOM_COLUMNS]
    return [s for s in specs if s.slug in slugs]


@login_required
def issue_list(request: HttpRequest) -> HttpResponse:
    parsed = parse_issue_key(request.GET.get("q", ""))
    if parsed is not None:
        project_key, number = parsed
        issue = (
            issues_visible_to(request.user)
            .filter(project__key=project_key, number=number)
            .only("pk", "number", "project__key")
            .first()
        )
        if issue is not None:
            return redirect(issue)
    filterset = _filtered(request, "owner", "component", page=True)
    per_page = parse_id(request.GET.get("per_page", "50")) or 50
    per_page = per_page if per_page in PAGE_SIZES else 50
    # The playbook's "3/5" next to the title: a join, not a query per row.
    issues = with_checklist_progress(filterset.qs) if filterset.is_valid() else Issue.objects.none()
    paginator = CappedPaginator(
        issues,
        per_page,
        cap=filterset.count_cap,
        count_from=getattr(filterset, "count_qs", None),
        rows_from=with_checklist_progress(filterset.queryset),
    )
    page = paginator.get_page(request.GET.get("page"))
    # The rows once, here, with their labels as plain names (one query).
    page.object_list = list(page.object_list)
    attach_label_names(page.object_list)
    columns = _chosen_columns(request)
    # One header per slug, the cells of the page's issues in one query.
    headers = list(dict.fromkeys(s.slug for s in columns))
    names = {s.slug: s.name for s in reversed(columns)}
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "issues/list.html",
        {
            "filter": filterset,
            "page": page,
            "custom_columns": [(slug, names[slug]) for slug in headers],
            "custom_cells": cells_for(page.object_list, columns),
            "column_choices": _column_choices(request, headers),
            "query": query.urlencode(),
            "saved_filters": saved_filters_of(request.user),
            "builtin_filters": BUILTIN_FILTERS,
            "bulk_form": BulkForm(issue_ids=[]),
            "per_page": per_page,
            "page_sizes": PAGE_SIZES,
        },
    )


def _column_choices(request: HttpRequest, chosen: list[str]) -> list[tuple[str, str, bool]]:
    """(slug, name, on) of every custom field the user may show as a column."""
    seen: dict[str, str] = {}
    for spec in field_specs_for_request(request):
        seen.setdefault(spec.slug, spec.name)
    return [(slug, name, slug in chosen) for slug, name in seen.items()]


def _csv_cell(value) -> str:
    # Spreadsheets run cells starting with these as formulas: defuse them.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


@login_required
def issue_export(request: HttpRequest) -> HttpResponse:
    """CSV of exactly the filtered list (all pages), streamed."""
    filterset = _filtered(
        request, "owner", "reporter", "team", "component", "affected_version", "fix_version"
    )
    if not filterset.is_valid():
        messages.error(request, "Fix the filters before exporting.")
        return redirect(f"{reverse('issue_list')}?{request.GET.urlencode()}")
    # The closure texts are deferred for the list page; the export prints them.
    issues = (
        filterset.qs.defer(None).defer("description", "search_vector").prefetch_related("labels")
    )
    header = [
        "key", "title", "type", "priority", "severity", "status", "owner", "reporter", "team",
        "labels", "environment", "component", "affected_version", "fix_version", "created_at", "updated_at",
        "resolution_due_at", "resolution", "resolution_summary", "root_cause", "lessons_learned",
    ]  # fmt: skip
    # A column per custom field (by slug) of the projects the user sees; a slug shared by
    # several projects is one column, each issue filled from its own project's field.
    custom = list(
        fields_visible_to(request.user)
        .filter(archived_at__isnull=True)
        .order_by("order", "name", "pk")
    )
    slugs = list(dict.fromkeys(f.slug for f in custom))
    field_of = {(f.project_id, f.slug): f.pk for f in custom}
    header += slugs

    def rows():
        writer = csv.writer(_Echo())
        yield writer.writerow(header)
        for chunk in batched(issues.iterator(chunk_size=2000), 2000):
            values = export_values([i.pk for i in chunk], custom) if custom else {}
            for issue in chunk:
                yield _csv_row(writer, issue, values.get(issue.pk, {}), slugs, field_of)

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="issues.csv"'
    return response


def _csv_row(writer, issue, custom: dict[int, str], slugs: list[str], field_of) -> str:
    extra = [custom.get(field_of.get((issue.project_id, slug), 0), "") for slug in slugs]
    return writer.writerow(
        _csv_cell(v)
        for v in (
            issue.key,
            issue.title,
            issue.get_type_display(),
            issue.get_priority_display(),
            issue.get_severity_display(),
            issue.get_status_display(),
            issue.owner.username if issue.owner else "",
            issue.reporter.username,
            issue.team.name if issue.team else "",
            ", ".join(label.name for label in issue.labels.all()),
            issue.environment,
            issue.component.name if issue.component else "",
            issue.affected_version.name if issue.affected_version else "",
            issue.fix_version.name if issue.fix_version else "",
            issue.created_at.isoformat(),
            issue.updated_at.isoformat(),
            issue.resolution_due_at.isoformat() if issue.resolution_due_at else "",
            issue.get_resolution_display() if issue.resolution else "",
            issue.resolution_summary,
            reason_value("root_cause", issue.root_cause),
            issue.lessons_learned,
            *extra,
        )
    )


@login_required
@require_POST
def issue_bulk(request: HttpRequest) -> HttpResponse:
    back = _safe_next(request, reverse("issue_list"))
    visible = issues_visible_to(request.user)
    ids = [pk for pk in map(parse_id, request.POST.getlist("issues")) if pk is not None]
    form = BulkForm(request.POST, issue_ids=ids)
    if not ids:
        messages.error(request, "Select at least one issue.")
        return HttpResponseRedirect(back)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return HttpResponseRedirect(back)
    owner_choice = form.cleaned_data["owner"].strip()
    owner = None
    if owner_choice and owner_choice.lower() != "unassigned":
        found = member_by_handle(request, owner_choice)
        if found is None:
            messages.error(
                request, f"Nothing was changed. Nobody called “{owner_choice}” in your projects."
            )
            return HttpResponseRedirect(back)
        owner = get_user_model().objects.get(pk=found[0])
    issues = list(
        visible.filter(pk__in=ids).select_related("owner", "team", "component").order_by("pk")
    )
    try:
        count = bulk_update_issues(
            issues,
            actor=request.user,
            owner=owner,
            unassign=owner_choice.lower() == "unassigned",
            priority=form.cleaned_data["priority"],
            severity=form.cleaned_data["severity"],
            label=form.cleaned_data["label"],
            component=form.cleaned_data["component"],
            reason=form.cleaned_data["reason"],
        )
    except IssueError as error:
        messages.error(request, f"Nothing was changed. {error}")
    else:
        messages.success(request, f"Updated {count} issue{'s' if count != 1 else ''}.")
    return HttpResponseRedirect(back)


@login_required
@require_POST
def filter_save(request: HttpRequest) -> HttpResponse:
    form = SaveFilterForm(request.POST)
    query = request.POST.get("query", "")
    if form.is_valid():
        save_filter(request.user, name=form.cleaned_data["name"], query=form.cleaned_data["query"])
        messages.success(request, f"Saved the filter “{form.cleaned_data['name']}”.")
    else:
        messages.error(request, "Give the filter a name (at most 80 characters).")
    return redirect(f"{reverse('issue_list')}?{query.lstrip('?')}")


@login_required
@require_POST
def filter_delete(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedFilter, pk=pk, user=request.user)
    delete_saved_filter(saved, user=request.user)
    messages.info(request, f"Deleted the filter “{saved.name}”.")
    return redirect("issue_list")
