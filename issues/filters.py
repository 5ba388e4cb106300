"""The issue list's filters, search and sort. State lives in the query string (shareable links)."""

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, F, OuterRef, Q

from projects.models import Team
from projects.selectors import projects_for_request, projects_visible_to
from workflows.selectors import SLA_FILTER_CHOICES, filter_sla_state

from .models import Issue, IssueType, Priority, Severity, Status
from .selectors import parse_issue_key, search_issues

ME = "me"
UNASSIGNED = "unassigned"

# Sort keys offered in column headers -> ORDER BY (ties broken by newest first).
SORTS = {
    "key": ("project__key", "number"),
    "priority": ("priority", "-updated_at"),
    "severity": ("severity", "-updated_at"),
    "status": ("status", "-updated_at"),
    "owner": ("owner__username", "-updated_at"),
    "due": ("resolution_due_at", "-updated_at"),
    "updated": ("updated_at",),
    "created": ("created_at",),
}
SORT_CHOICES = [(k, k) for k in SORTS] + [(f"-{k}", f"-{k}") for k in SORTS]


def _order_by(sort: str) -> list:
    """ORDER BY for a sort key; `-key` reverses the column (tie-breakers keep newest first)."""
    desc = sort.startswith("-")
    order = []
    for i, field in enumerate(SORTS[sort.lstrip("-")]):
        descending = field.startswith("-")
        if desc and (i == 0 or field != "-updated_at"):
            descending = not descending
        expr = F(field.lstrip("-"))
        order.append(expr.desc(nulls_last=True) if descending else expr.asc(nulls_last=True))
    return order


class AnyOfFilter(django_filters.MultipleChoiceFilter):
    """Several values of one column as `column IN (…)`, not django-filter's OR of equalities:
    PostgreSQL reads an IN list inside one index scan (the list's capped count is then an
    index-only scan), while an OR becomes a bitmap of separate scans plus heap visits."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("distinct", False)
        kwargs.setdefault("widget", forms.CheckboxSelectMultiple)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__in": sorted(set(value))})


class IssueFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    project = django_filters.ModelMultipleChoiceFilter(queryset=None, distinct=False)
    status = AnyOfFilter(choices=Status.choices)
    type = AnyOfFilter(choices=IssueType.choices)
    priority = AnyOfFilter(choices=Priority.choices)
    severity = AnyOfFilter(choices=Severity.choices)
    owner = django_filters.ChoiceFilter(method="filter_owner", empty_label="Anyone")
    reporter = django_filters.ChoiceFilter(method="filter_reporter", empty_label="Anyone")
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), empty_label="Any team")
    label = django_filters.CharFilter(method="filter_label", label="Label")
    sla = django_filters.ChoiceFilter(
        choices=SLA_FILTER_CHOICES, method="filter_sla", label="SLA", empty_label="Any SLA"
    )
    created = django_filters.DateFromToRangeFilter(
        field_name="created_at", widget=django_filters.widgets.DateRangeWidget
    )
    updated = django_filters.DateFromToRangeFilter(
        field_name="updated_at", widget=django_filters.widgets.DateRangeWidget
    )
    keys = django_filters.CharFilter(method="filter_keys", label="Keys")
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES, method="filter_sort", label="Sort", empty_label="Best match / newest"
    )

    def __init__(self, data=None, queryset=None, *, request=None, **kwargs):
        if data is not None and "" in data.getlist("project"):
            # The "Any project" option submits an empty value; drop it from the several allowed.
            data = data.copy()
            data.setlist("project", [v for v in data.getlist("project") if v])
        super().__init__(data, queryset, request=request, **kwargs)
        user = request.user
        projects = projects_visible_to(user).active()
        self.filters["project"].queryset = projects
        self.form.fields["project"].queryset = projects
        # The visible projects (one query per request, shared with the issue query).
        visible = projects_for_request(request)
        # Plain choice lists: templates iterate them without extra COUNT queries.
        self.project_choices = [
            ("", "Any project"),
            *((p.pk, f"{p.key} · {p.name}") for p in visible if p.archived_at is None),
        ]
        self.team_choices = [("", "Any team"), *Team.objects.values_list("pk", "name")]
        people = list(
            get_user_model()
            .objects.filter(memberships__project_id__in=[p.pk for p in visible])
            .distinct()
            .order_by("username")
            .values_list("pk", "username")
        )
        self.people = people
        person_choices = [(str(pk), name) for pk, name in people]
        self.form.fields["owner"].choices = [
            ("", "Anyone"),
            (ME, "Me"),
            (UNASSIGNED, "Unassigned"),
            *person_choices,
        ]
        self.form.fields["reporter"].choices = [("", "Anyone"), (ME, "Me"), *person_choices]
        for name in ("created", "updated"):
            for widget in self.form.fields[name].widget.widgets:
                widget.input_type = "date"
                widget.attrs["class"] = "form-control form-control-sm"
        for name, field in self.form.fields.items():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple) or name in ("created", "updated"):
                continue
            if isinstance(widget, forms.Select):
                widget.attrs["class"] = "form-select form-select-sm"
            else:
                widget.attrs["class"] = "form-control form-control-sm"

    @property
    def qs(self):
        qs = super().qs
        if not self.form.cleaned_data.get("sort"):
            if self.form.cleaned_data.get("q") and "rank" in qs.query.annotations:
                qs = qs.order_by("-rank", "-updated_at")
            else:
                qs = qs.order_by("-updated_at", "-pk")
        return qs

    def _user_id(self, value: str):
        if value == ME:
            return self.request.user.pk
        return int(value) if value.isdigit() else None

    def filter_q(self, queryset, name, value):
        return search_issues(queryset, value)

    def filter_owner(self, queryset, name, value):
        if value == UNASSIGNED:
            return queryset.filter(owner__isnull=True)
        return queryset.filter(owner_id=self._user_id(value))

    def filter_reporter(self, queryset, name, value):
        return queryset.filter(reporter_id=self._user_id(value))

    def filter_label(self, queryset, name, value):
        tagged = Issue.labels.through.objects.filter(
            issue_id=OuterRef("pk"), label__name__iexact=value.strip()
        )
        return queryset.filter(Exists(tagged))

    def filter_keys(self, queryset, name, value):
        """An explicit set of issues, e.g. keys=WEB-1,WEB-7 (the dashboard's drill-down)."""
        wanted = Q(pk__in=[])
        for key in value.split(",")[:200]:
            parsed = parse_issue_key(key.strip())
            if parsed is not None:
                wanted |= Q(project__key=parsed[0], number=parsed[1])
        return queryset.filter(wanted)

    def filter_sla(self, queryset, name, value):
        return filter_sla_state(queryset, value)

    def filter_sort(self, queryset, name, value):
        return queryset.order_by(*_order_by(value))
