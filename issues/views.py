"""Issue pages. Thin: fetch through the access selectors, GET renders, POST calls one service."""

import csv
import mimetypes
from itertools import batched
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet, prefetch_related_objects
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from customfields.forms import (
    add_custom_fields,
    check_custom_fields,
    custom_bound_fields,
    custom_values,
)
from customfields.selectors import (
    FieldSpec,
    cells_for,
    export_values,
    field_specs_for_request,
    fields_of,
    fields_visible_to,
    panel_rows,
    values_of,
)
from playbooks.models import TemplateVersion
from playbooks.selectors import (
    current_version,
    fields_shown_by,
    template_values,
    version_for_form,
    with_checklist_progress,
)
from projects.selectors import get_project_for_user, member_by_handle, projects_visible_to
from workflows.activity import reason_value
from workflows.issue_fields import file_issue_with_fields, update_issue_with_fields
from workflows.issue_use_cases import bulk_update_issues
from workflows.selectors import cycles_prefetch

from .filters import IssueFilter
from .forms import (
    AttachmentForm,
    BulkForm,
    CommentForm,
    IssueCreateForm,
    IssueEditForm,
    LinkForm,
    SaveFilterForm,
)
from .inputs import parse_id
from .models import OPEN_STATUSES, Attachment, Issue, IssueType, SavedFilter
from .selectors import (
    TIMELINE_PAGE,
    TimelineCursor,
    attach_label_names,
    get_issue_for_user,
    get_link_of_issue,
    issue_page_data,
    issues_visible_for_request,
    issues_visible_to,
    parse_issue_key,
    saved_filters_of,
    similar_issues,
    timeline_page,
)
from .services import (
    IssueAccessError,
    IssueError,
    add_attachment,
    add_comment,
    delete_saved_filter,
    link_issues,
    save_filter,
    unlink_issues,
    unwatch_issue,
    watch_issue,
)

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


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP rows: an exact COUNT(*) over 100,000 issues costs more than the
    page itself. Past the cap the list says "10,000+" and offers pages up to it."""

    COUNT_CAP = 10_000

    def __init__(self, *args, cap: int | None = None, count_from=None, rows_from=None, **kwargs):
        super().__init__(*args, **kwargs)
        if cap is not None:
            self.COUNT_CAP = cap
        # What to count when it is cheaper than the rows shown (the same rows up to the cap).
        self.count_from = count_from
        # What to read the page's rows from by id (their joins and annotations, without the
        # filters, which the ids already satisfy): see _get_page.
        self.rows_from = rows_from

    @cached_property
    def _limited_count(self) -> int:
        # No ORDER BY and no rank: only whether there are more than COUNT_CAP rows matters.
        counted = self.object_list if self.count_from is None else self.count_from
        return counted.order_by().values("pk")[: self.COUNT_CAP + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._limited_count, self.COUNT_CAP)

    @property
    def capped(self) -> bool:
        return self._limited_count > self.COUNT_CAP

    def _get_page(self, object_list, *args, **kwargs):
        # A late row lookup: the page's ids first (ORDER BY … LIMIT in a subquery, which an
        # index can answer without visiting the table), then only those rows with their
        # joins. Read directly, the LIMIT visits every row it skips: rows of projects the
        # user cannot see, or the rows of the pages before. Still one statement.
        # Not for ranked search results: their order comes from no index, and the bounded
        # candidates would be looked up twice.
        if (
            isinstance(object_list, QuerySet)
            and object_list.query.is_sliced
            and "rank" not in object_list.query.annotations
        ):
            ids = object_list.values("pk")
            if self.rows_from is not None:
                # The filters once, in the ids' subquery: repeated around it, a custom
                # field's semi-join doubled the statement's planning time (~1 ms).
                order = self.object_list.query.order_by
                rows = self.rows_from.filter(pk__in=ids)
                object_list = rows.order_by(*order) if order else rows
            else:
                object_list = self.object_list.filter(pk__in=ids)
        return super()._get_page(object_list, *args, **kwargs)


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


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


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


def _render_new(
    request: HttpRequest, form: IssueCreateForm, project=None, status: int = 200, version=None
):
    similar = []
    chosen = getattr(form, "cleaned_data", {}).get("project")
    if chosen is not None:
        similar = similar_issues(request.user, chosen, form.data.get("title", ""))
    context = {
        "form": form,
        "project": project,
        "similar": similar,
        "custom_fields": custom_bound_fields(form),
        "template_version": version,
    }
    # The type or project select switched the template: only the fields, for htmx to swap.
    if request.headers.get("HX-Request") and "apply_template" in request.POST:
        return render(request, "issues/_new_fields.html", context, status=status)
    return render(request, "issues/new.html", context, status=status)


def _preselected_project(request: HttpRequest):
    """The project the form starts with: `?project=KEY` (the top bar's button on a project's
    pages; an id works too), else the user's only project; None when there is a choice."""
    projects = projects_visible_to(request.user).active()
    wanted = request.GET.get("project", "").strip().upper()
    if wanted:
        wanted_id = parse_id(wanted)
        match = projects.filter(pk=wanted_id) if wanted_id is not None else None
        chosen = (match or projects.filter(key=wanted)).first()
        if chosen is not None:
            return chosen
    only = list(projects.only("pk", "key", "name")[:2])
    return only[0] if len(only) == 1 else None


def _issue_type(value: str | None) -> str:
    return value if value in IssueType.values else IssueType.BUG


def _with_custom_fields(request: HttpRequest, form: IssueCreateForm, initial_project, version=None):
    """The custom fields of the chosen project and type that its template shows: the posted
    ones (a re-render after POST), else `?project=` / `?type=` (the form re-rendered when they
    change), else the form's initial project."""
    if request.method == "POST":
        project_id = parse_id(request.POST.get("project", ""))
        project = (
            projects_visible_to(request.user).active().filter(pk=project_id).first()
            if project_id is not None
            else None
        )
        issue_type = _issue_type(request.POST.get("type"))
        if version is None and "apply_template" not in request.POST:
            posted = parse_id(request.POST.get("template_version", ""))
            version = version_for_form(project, issue_type, posted)
    else:
        project = initial_project
        issue_type = _issue_type(request.GET.get("type"))
    if project is not None:
        add_custom_fields(form, fields_shown_by(version, fields_of(project, issue_type)))
    return form


def _label_ids(project) -> dict[str, int]:
    if project is None:
        return {}
    return {name.lower(): pk for pk, name in project.labels.values_list("pk", "name")}


def _with_template(request: HttpRequest, data: dict, *, previous_id) -> tuple[dict, object]:
    """The form's values with the template of its project and type applied (see
    playbooks.selectors.template_values for what is kept of what the user typed)."""
    project = (
        projects_visible_to(request.user)
        .active()
        .filter(pk=parse_id(str(data.get("project") or "")))
        .first()
    )
    type_ = str(data.get("type") or IssueType.BUG)
    new = current_version(project, type_)
    # The last template applied, maybe of the project the user switched away from.
    previous_pk = parse_id(str(previous_id or ""))
    previous = (
        TemplateVersion.objects.filter(
            pk=previous_pk, template__project__in=projects_visible_to(request.user)
        ).first()
        if previous_pk is not None
        else None
    )
    values = template_values(data, new=new, previous=previous, labels=_label_ids(project))
    return values, new


@login_required
def issue_new(request: HttpRequest, project_key: str | None = None) -> HttpResponse:
    project = get_project_for_user(request.user, project_key) if project_key else None
    initial = {"project": project or _preselected_project(request)}
    if request.GET.get("type") in IssueType.values:
        initial["type"] = request.GET["type"]
    if request.method != "POST":
        start = {
            "project": getattr(initial["project"], "pk", None),
            "type": initial.get("type", IssueType.BUG),
        }
        values, version = _with_template(request, start, previous_id=None)
        initial.update({k: v for k, v in values.items() if k != "project"})
        form = IssueCreateForm(user=request.user, initial=initial)
        form = _with_custom_fields(request, form, initial["project"], version)
        return _render_new(request, form, project, version=version)
    if "apply_template" in request.POST:
        # Re-render with the template of the chosen project and type; nothing is saved.
        data = {k: request.POST.get(k, "") for k in request.POST if k != "labels"}
        data["labels"] = request.POST.getlist("labels")
        values, version = _with_template(request, data, previous_id=data.get("template_version"))
        form = IssueCreateForm(user=request.user, initial=values)
        form = _with_custom_fields(request, form, initial["project"], version)
        return _render_new(request, form, project, version=version)
    form = IssueCreateForm(request.POST, request.FILES, user=request.user, initial=initial)
    _with_custom_fields(request, form, initial["project"])
    if form.is_valid():
        check_custom_fields(form)
    if form.errors:
        return _render_new(request, form, project, status=_refused_status(request))
    data = form.cleaned_data
    version = version_for_form(data["project"], data["type"], data.get("template_version"))
    try:
        issue = file_issue_with_fields(
            data["project"],
            template_version=version,
            reporter=request.user,
            custom_values=custom_values(form),
            title=data["title"],
            description=data["description"],
            type=data["type"],
            priority=data["priority"],
            severity=data["severity"],
            owner=data["owner"],
            team=data["team"],
            environment=data["environment"],
            component=data["component"],
            affected_version=data["affected_version"],
            fix_version=data["fix_version"],
            labels=data["labels"],
            attachments=[data["attachment"]] if data.get("attachment") else [],
        )
    except IssueError as error:
        form.add_error(error.field if error.field in form.fields else None, str(error))
        return _render_new(request, form, project, status=400)
    messages.success(request, f"Filed {issue.key}.")
    return redirect(issue)


@login_required
def issue_similar(request: HttpRequest) -> HttpResponse:
    """Likely duplicates for the new-issue form (htmx partial)."""
    project_id = parse_id(request.GET.get("project", ""))
    project = (
        projects_visible_to(request.user).filter(pk=project_id).first()
        if project_id is not None
        else None
    )
    text = f"{request.GET.get('title', '')} {request.GET.get('description', '')}"
    similar = similar_issues(request.user, project, text) if project else []
    return render(request, "issues/_similar.html", {"similar": similar})


def _render_detail(request: HttpRequest, issue, *, status: int = 200, **forms) -> HttpResponse:
    # The SLA box and the stage durations both read the cycles: fetch them once.
    prefetch_related_objects([issue], cycles_prefetch())
    context = {
        "issue": issue,
        "comment_form": forms.get("comment_form") or CommentForm(),
        "attachment_form": forms.get("attachment_form") or AttachmentForm(),
        "link_form": forms.get("link_form") or LinkForm(),
        "custom_rows": panel_rows(issue),
        **issue_page_data(issue, request.user),
    }
    return render(request, "issues/detail.html", context, status=status)


@login_required
def issue_detail(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    return _render_detail(request, issue)


@login_required
def issue_timeline(request: HttpRequest, key: str) -> HttpResponse:
    """The next entries of a long timeline (the issue page's "load more"): the entries alone
    for htmx, else a small page of them with a link to the next ones."""
    issue = get_issue_for_user(request.user, key)
    after = TimelineCursor.parse(request.GET.get("after", ""))
    before = TimelineCursor.parse(request.GET.get("before", ""))
    if after is None or before is None:
        messages.error(request, "That part of the activity is not there any more.")
        return redirect(issue)
    page = timeline_page(issue, request.user, after=after, before=before)
    template = "issues/_timeline_page.html" if request.headers.get("HX-Request") else None
    return render(
        request,
        template or "issues/timeline.html",
        {"issue": issue, "page_size": TIMELINE_PAGE, **page},
    )


def _render_edit(request: HttpRequest, issue, form: IssueEditForm, status: int = 200):
    return render(
        request,
        "issues/edit.html",
        {"issue": issue, "form": form, "custom_fields": custom_bound_fields(form)},
        status=status,
    )


@login_required
def issue_edit(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    if request.method != "POST":
        initial = {f: getattr(issue, f) for f in IssueEditForm.base_fields if hasattr(issue, f)}
        initial["labels"] = list(issue.labels.all())
        form = IssueEditForm(initial=initial, issue=issue)
        fields = fields_of(issue.project, issue.type)
        add_custom_fields(form, fields, status=issue.status, values=values_of(issue))
        return _render_edit(request, issue, form)
    form = IssueEditForm(request.POST, issue=issue)
    # The custom fields of the type chosen on the form (a type change shows the new type's).
    issue_type = request.POST.get("type")
    fields = fields_of(issue.project, issue_type if issue_type in IssueType.values else issue.type)
    add_custom_fields(form, fields, status=issue.status, values=values_of(issue), initial=False)
    if form.is_valid():
        check_custom_fields(form)
    if not form.errors:
        try:
            changed = update_issue_with_fields(
                issue,
                actor=request.user,
                changes=form.changes(),
                custom_values=custom_values(form),
                expected_version=form.cleaned_data["version"],
                reason=form.cleaned_data["reason"],
            )
        except IssueError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            if changed:
                messages.success(request, f"Saved {issue.key}.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect(issue)
    return _render_edit(request, issue, form, status=400)


@login_required
@require_POST
def issue_comment(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    form = CommentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            comment = add_comment(
                issue,
                author=request.user,
                body=form.cleaned_data["body"],
                attachments=form.cleaned_data["files"],
            )
        except IssueError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            return redirect(f"{issue.get_absolute_url()}#comment-{comment.pk}")
    return _render_detail(request, issue, comment_form=form, status=_refused_status(request))


@login_required
@require_POST
def issue_attach(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            attachment = add_attachment(issue, actor=request.user, upload=form.cleaned_data["file"])
        except IssueError as error:
            form.add_error("file", str(error))
        else:
            messages.success(request, f"Attached {attachment.filename}.")
            return redirect(issue)
    return _render_detail(request, issue, attachment_form=form, status=_refused_status(request))


def _refused_status(request: HttpRequest) -> int:
    """413 Content Too Large when a refused form carried an over-limit file (its message is
    next to the field), else 400."""
    too_large = any(
        upload.size > settings.ATTACHMENT_MAX_BYTES
        for name in request.FILES
        for upload in request.FILES.getlist(name)
    )
    return 413 if too_large else 400


# Served inline-safe types keep their type; anything else (HTML, SVG, scripts) is a byte stream.
SAFE_CONTENT_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/zip",
    "application/json",
}


@login_required
def attachment_download(request: HttpRequest, key: str, pk: int) -> FileResponse:
    issue = get_issue_for_user(request.user, key)
    attachment = get_object_or_404(Attachment, pk=pk, issue=issue)
    guessed, _ = mimetypes.guess_type(attachment.filename)
    content_type = guessed if guessed in SAFE_CONTENT_TYPES else "application/octet-stream"
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing.") from None
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
@require_POST
def issue_watch(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    if request.POST.get("action") == "unwatch":
        unwatch_issue(issue, user=request.user)
        messages.info(request, f"You no longer watch {issue.key}.")
    else:
        watch_issue(issue, user=request.user)
        messages.success(request, f"You now watch {issue.key}.")
    return redirect(issue)


@login_required
@require_POST
def issue_link(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    form = LinkForm(request.POST)
    if form.is_valid():
        try:
            target = get_issue_for_user(request.user, form.cleaned_data["target"])
        except Http404:
            form.add_error("target", "No issue with this key that you can see.")
        else:
            try:
                link_issues(
                    issue, target=target, kind=form.cleaned_data["kind"], actor=request.user
                )
            except IssueError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
                status = 403 if isinstance(error, IssueAccessError) else 400
                return _render_detail(request, issue, link_form=form, status=status)
            else:
                messages.success(request, f"Linked {issue.key} and {target.key}.")
                return redirect(issue)
    return _render_detail(request, issue, link_form=form, status=400)


@login_required
@require_POST
def issue_unlink(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    link = get_link_of_issue(issue, pk)
    try:
        unlink_issues(link, actor=request.user)
    except IssueError as error:
        form = LinkForm.refused(str(error))
        status = 403 if isinstance(error, IssueAccessError) else 400
        return _render_detail(request, issue, link_form=form, status=status)
    messages.info(request, "Link removed.")
    return redirect(issue)


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
