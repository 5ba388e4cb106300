"""Reads of custom fields: which fields an issue has, their values as people read them, and
the fields a user may see (only those of projects visible to them, everywhere)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from accounts.compiled import CompiledRead
from issues.models import Issue, Status
from projects.models import Project
from projects.selectors import projects_for_request, projects_visible_to

from .models import CustomField, CustomFieldOption, CustomFieldValue, FieldKind

STATUS_ORDER: tuple[str, ...] = tuple(Status.values)


# The issue page's two reads (fields without their choices, an issue's values), compiled once.
_live_fields: CompiledRead[Any] = CompiledRead(
    lambda project_id: CustomField.objects.filter(project_id=project_id, archived_at__isnull=True)
)
_values_of_issue: CompiledRead[Any] = CompiledRead(
    lambda issue_id: CustomFieldValue.objects.filter(issue_id=issue_id).select_related(
        "option", "user"
    )
)


def fields_of(
    project: Project, issue_type: str | None = None, *, with_options: bool = True
) -> list[CustomField]:
    """The project's live fields (not archived) in their order, those of `issue_type` only
    when given; choices prefetched unless `with_options` is off."""
    if with_options:
        query = CustomField.objects.filter(project=project, archived_at__isnull=True)
        found = list(query.prefetch_related("options"))
    else:
        found = _live_fields.rows(project.pk)
    return [f for f in found if issue_type is None or f.applies_to(issue_type)]


def all_fields_of(project: Project) -> QuerySet[CustomField]:
    """Every field of the project, archived ones too (the settings page)."""
    return CustomField.objects.filter(project=project).prefetch_related("options")


def get_field_for_manager(project: Project, pk: int) -> CustomField | None:
    return CustomField.objects.filter(project=project, pk=pk).first()


def fields_visible_to(user) -> QuerySet[CustomField]:
    return CustomField.objects.filter(project__in=projects_visible_to(user))


def live_options(field_: CustomField) -> list[CustomFieldOption]:
    return [o for o in field_.options.all() if o.archived_at is None]


def is_required_now(field_: CustomField, status: str) -> bool:
    """Required on the forms: always-required fields, and fields required from a status the
    issue has reached."""
    if not field_.required:
        return False
    if not field_.required_from:
        return True
    return STATUS_ORDER.index(status) >= STATUS_ORDER.index(field_.required_from)


def required_for_transition(field_: CustomField, target: str) -> bool:
    """Whether a transition into `target` needs the field filled in."""
    if not field_.required:
        return False
    if not field_.required_from:
        return True
    return STATUS_ORDER.index(target) >= STATUS_ORDER.index(field_.required_from)


def values_of(issue: Issue) -> dict[int, list[CustomFieldValue]]:
    """The issue's values by field id (one query, options and people joined)."""
    found: dict[int, list[CustomFieldValue]] = defaultdict(list)
    for value in _values_of_issue.rows(issue.pk):
        found[value.field_id].append(value)
    return found


def is_empty(field_: CustomField, rows: list[CustomFieldValue]) -> bool:
    if not rows:
        return True
    row = rows[0]
    kind = field_.kind
    if kind in (FieldKind.TEXT, FieldKind.LONG_TEXT, FieldKind.URL):
        return not row.text
    if kind == FieldKind.NUMBER:
        return row.number is None
    if kind == FieldKind.DATE:
        return row.date is None
    if kind == FieldKind.CHECKBOX:
        # An unticked box is a value ("No"), but not one that satisfies a requirement.
        return not row.flag
    if kind == FieldKind.USER:
        return row.user_id is None
    return all(r.option_id is None for r in rows)


def format_number(number: Decimal | None) -> str:
    if number is None:
        return ""
    text = format(number.normalize(), "f")
    return text


def display(field_: CustomField, rows: list[CustomFieldValue]) -> str:
    """The value as people read it (labels, usernames, ISO dates): the page, the list's cells,
    the CSV and the audit trail."""
    if not rows:
        return ""
    row = rows[0]
    kind = field_.kind
    if kind in (FieldKind.TEXT, FieldKind.LONG_TEXT, FieldKind.URL):
        return row.text
    if kind == FieldKind.NUMBER:
        return format_number(row.number)
    if kind == FieldKind.DATE:
        return row.date.isoformat() if row.date else ""
    if kind == FieldKind.CHECKBOX:
        return "" if row.flag is None else ("Yes" if row.flag else "No")
    if kind == FieldKind.USER:
        return row.user.username if row.user else ""
    labels = [r.option.label for r in rows if r.option is not None]
    return ", ".join(sorted(labels, key=str.lower))


def api_value(field_: CustomField, rows: list[CustomFieldValue]):
    """The value in the API's JSON: numbers as numbers, choices as labels, people as
    usernames, a multiple choice as a list."""
    kind = field_.kind
    if kind == FieldKind.MULTI_CHOICE:
        return sorted((r.option.label for r in rows if r.option is not None), key=str.lower)
    if not rows:
        return False if kind == FieldKind.CHECKBOX else None
    row = rows[0]
    if kind == FieldKind.NUMBER:
        if row.number is None:
            return None
        return int(row.number) if row.number == row.number.to_integral() else float(row.number)
    if kind == FieldKind.DATE:
        return row.date.isoformat() if row.date else None
    if kind == FieldKind.CHECKBOX:
        return bool(row.flag)
    if kind == FieldKind.USER:
        return row.user.username if row.user else None
    if kind == FieldKind.CHOICE:
        return row.option.label if row.option else None
    return row.text or None


@dataclass
class PanelRow:
    field: CustomField
    text: str
    is_url: bool = False


def panel_rows(issue: Issue) -> list[PanelRow]:
    """The side panel's rows: the live fields of the issue's type, and any archived or other
    type's field that still holds a value is left out (values are kept, not shown). Two
    queries."""
    values = values_of(issue)
    rows = []
    for f in fields_of(issue.project, issue.type, with_options=False):
        text = display(f, values.get(f.pk, []))
        rows.append(PanelRow(f, text, is_url=f.kind == FieldKind.URL and bool(text)))
    return rows


def api_values(issue: Issue) -> dict[str, object]:
    """`custom_fields` of an issue in the API: every live field of its type, keyed by slug."""
    values = values_of(issue)
    fields = fields_of(issue.project, issue.type, with_options=False)
    return {f.slug: api_value(f, values.get(f.pk, [])) for f in fields}


# --- the list: filters, columns and CSV over the projects a user may see --------------------


@dataclass
class FieldSpec:
    """A field as the list needs it (the filter bar, columns, chips): from one query."""

    pk: int
    project_id: int
    project_key: str
    slug: str
    name: str
    kind: str
    options: list[tuple[int, str]] = field(default_factory=list)


_SPEC_ROWS: CompiledRead[tuple[Any, ...]] = CompiledRead(
    lambda project_ids: (
        CustomField.objects.filter(project_id__in=project_ids, archived_at__isnull=True)
        .order_by("project_id", "order", "name", "pk", "options__order", "options__label")
        .values_list(
            "pk",
            "project_id",
            "slug",
            "name",
            "kind",
            "options__pk",
            "options__label",
            "options__archived_at",
        )
    )
)


def field_specs_for_request(request) -> list[FieldSpec]:
    """The live fields of the projects the request's user sees, with their live choices: one
    query (a row per choice), loaded once per request."""
    cache = request.__dict__
    if "_resolve_field_specs" not in cache:
        projects = {p.pk: p.key for p in projects_for_request(request)}
        specs: dict[int, FieldSpec] = {}
        for pk, project_id, slug, name, kind, opt_pk, opt_label, opt_archived in _SPEC_ROWS.rows(
            tuple(projects)
        ):
            spec = specs.get(pk)
            if spec is None:
                spec = specs[pk] = FieldSpec(pk, project_id, projects[project_id], slug, name, kind)
            if opt_pk is not None and opt_archived is None:
                spec.options.append((opt_pk, opt_label))
        cache["_resolve_field_specs"] = list(specs.values())
    return cache["_resolve_field_specs"]


def specs_by_slug(specs: Iterable[FieldSpec]) -> dict[str, list[FieldSpec]]:
    """Specs grouped by slug: one slug may name a field in several projects."""
    grouped: dict[str, list[FieldSpec]] = defaultdict(list)
    for spec in specs:
        grouped[spec.slug].append(spec)
    return grouped


def cells_for(issues: list[Issue], specs: list[FieldSpec]) -> dict[int, list[str]]:
    """The chosen columns' cells of these issues (one query whatever the rows): for each issue
    the display text of each spec's slug (a field of the issue's own project), else ''."""
    if not specs or not issues:
        return {}
    field_ids = [s.pk for s in specs]
    rows: dict[tuple[int, int], list[CustomFieldValue]] = defaultdict(list)
    values = CustomFieldValue.objects.filter(
        issue_id__in=[i.pk for i in issues], field_id__in=field_ids
    ).select_related("field", "option", "user")
    fields_by_pk: dict[int, CustomField] = {}
    for value in values:
        rows[(value.issue_id, value.field_id)].append(value)
        fields_by_pk[value.field_id] = value.field
    slugs = list(dict.fromkeys(s.slug for s in specs))
    by_project_slug = {(s.project_id, s.slug): s.pk for s in specs}
    cells = {}
    for issue in issues:
        out = []
        for slug in slugs:
            pk = by_project_slug.get((issue.project_id, slug))
            found = rows.get((issue.pk, pk), []) if pk is not None else []
            out.append(display(fields_by_pk[pk], found) if found and pk is not None else "")
        cells[issue.pk] = out
    return cells


def export_values(issue_ids: list[int], fields: list[CustomField]) -> dict[int, dict[int, str]]:
    """{issue id: {field id: display text}} for a chunk of the CSV export (one query)."""
    by_pk = {f.pk: f for f in fields}
    grouped: dict[tuple[int, int], list[CustomFieldValue]] = defaultdict(list)
    for value in CustomFieldValue.objects.filter(
        issue_id__in=issue_ids, field_id__in=list(by_pk)
    ).select_related("option", "user"):
        grouped[(value.issue_id, value.field_id)].append(value)
    out: dict[int, dict[int, str]] = defaultdict(dict)
    for (issue_id, field_id), rows in grouped.items():
        out[issue_id][field_id] = display(by_pk[field_id], rows)
    return out


def missing_for_transition(issue: Issue, target: str) -> list[CustomField]:
    """The required fields of the issue's type a transition into `target` still needs (the
    workflow's guard, `workflows.services.clean_transition_data`): one query when the
    project requires none, two otherwise."""
    required = [
        f
        for f in CustomField.objects.filter(
            project_id=issue.project_id, required=True, archived_at__isnull=True
        )
        if f.applies_to(issue.type) and required_for_transition(f, target)
    ]
    if not required:
        return []
    values = values_of(issue)
    return [f for f in required if is_empty(f, values.get(f.pk, []))]


def api_values_for(issues: list[Issue]) -> dict[int, dict[str, object]]:
    """`custom_fields` of several issues (the API's list): three queries whatever the rows
    (the fields of their projects, their choices, the values)."""
    if not issues:
        return {}
    fields = list(
        CustomField.objects.filter(
            project_id__in={i.project_id for i in issues}, archived_at__isnull=True
        ).prefetch_related("options")
    )
    options = {o.pk: o for f in fields for o in f.options.all()}
    grouped: dict[tuple[int, int], list[CustomFieldValue]] = defaultdict(list)
    for value in CustomFieldValue.objects.filter(
        issue_id__in=[i.pk for i in issues], field__in=fields
    ).select_related("user"):
        if value.option_id is not None:
            value.option = options[value.option_id]
        grouped[(value.issue_id, value.field_id)].append(value)
    out = {}
    for issue in issues:
        out[issue.pk] = {
            f.slug: api_value(f, grouped.get((issue.pk, f.pk), []))
            for f in fields
            if f.project_id == issue.project_id and f.applies_to(issue.type)
        }
    return out
