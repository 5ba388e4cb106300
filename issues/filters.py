"""The issue list's filters, search and sort. State lives in the query string (shareable links)."""

import copy

import django_filters
from django import forms
from django.db.models import Exists, F, OuterRef, Q

from customfields.filters import custom_filters, style_widgets, wants_custom_filters
from customfields.selectors import field_specs_for_request
from projects.models import Component, Team, Version
from projects.selectors import member_by_handle, projects_for_request, projects_visible_to
from workflows.selectors import SLA_FILTER_CHOICES, filter_sla_state

from . import selectors
from .inputs import IdChoiceMixin, IdValuesMixin, parse_id
from .models import Issue, IssueType, Priority, Severity, Status
from .selectors import best_matches_first, parse_issue_key, search_issues

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


# Columns that may be empty: only these sort with NULLS LAST (an issue without an owner or a
# deadline goes last either way). Every other column is NOT NULL, and there a NULLS clause
# that differs from PostgreSQL's default for the direction (DESC is NULLS FIRST) stops it
# from reading the order from an index: `priority ASC, updated_at DESC NULLS LAST` had to
# sort every matching row; `priority ASC, updated_at DESC` walks issue_priority_updated.
NULLABLE_SORT_FIELDS = {"owner__username", "resolution_due_at"}


def _order_by(sort: str) -> list:
    """ORDER BY for a sort key; `-key` reverses the column (tie-breakers keep newest first)."""
    desc = sort.startswith("-")
    order = []
    for i, field in enumerate(SORTS[sort.lstrip("-")]):
        descending = field.startswith("-")
        if desc and (i == 0 or field != "-updated_at"):
            descending = not descending
        name = field.lstrip("-")
        expr = F(name)
        if name in NULLABLE_SORT_FIELDS:
            order.append(expr.desc(nulls_last=True) if descending else expr.asc(nulls_last=True))
        else:
            order.append(expr.desc() if descending else expr.asc())
    return order


# A list filtered on a custom field counts at most this many matches ("More than 1,000
# issues"). Counting is a semi-join of the field's values with the live issues: up to this
# cap it is a merge of two index-only scans that stops early (~1 ms at 100,000 issues);
# counting to the list's 10,000 made PostgreSQL hash every matching value first (40,000 for
# a common choice: 29 ms, the page's main cost).
CUSTOM_FILTER_COUNT_CAP = 1000


def _given(value) -> bool:
    if isinstance(value, slice):  # a range: either end
        return value.start is not None or value.stop is not None
    return bool(value)


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


class _IdsField(IdValuesMixin, django_filters.fields.ModelMultipleChoiceField):
    pass


class _IdField(IdChoiceMixin, django_filters.fields.ModelChoiceField):
    pass


class IdsFilter(django_filters.ModelMultipleChoiceFilter):
    """Several objects by id: ids are ASCII digits within 64 bits (issues.inputs)."""

    field_class = _IdsField


class IdFilter(django_filters.ModelChoiceFilter):
    field_class = _IdField


class PersonField(forms.CharField):
    """A person filter typed or picked by username: `me`, `unassigned` (where offered), a
    username or, as older links have it, a user id. Cleans to `me`, `unassigned` or the
    person's id as text, or refuses a name that is no member of the user's projects. The
    page lists nobody: the picker (static/js/people-picker.js) asks /projects/people.json
    while you type, and without JavaScript the box takes a typed username."""

    def __init__(self, *args, keywords: dict[str, str], **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)
        self.keywords = keywords
        self.request = None
        # (value, label) of the keywords and of the chosen person: chips and the picker.
        self.choices = list(keywords.items())

    def clean(self, value):
        value = (super().clean(value) or "").strip()
        if not value or value.lower() in self.keywords:
            return value.lower()
        found = member_by_handle(self.request, value) if self.request is not None else None
        if found is None:
            raise forms.ValidationError(f"Nobody called “{value}” in your projects.")
        pk, username = found
        self.choices = [*self.keywords.items(), (value, username), (str(pk), username)]
        return str(pk)


class PersonFilter(django_filters.CharFilter):
    field_class = PersonField


def _request_copy(filter_):
    """A filter for one request: a shallow copy with its own `extra` (the field kwargs that
    `field` fills in) and without a field built earlier; what a request changes on it (the
    queryset, the parent) it rebinds, never mutates. A filter with a `method` calls it
    through a `FilterMethod` that holds the filter: the copy gets its own."""
    fresh = copy.copy(filter_)
    fresh.extra = filter_.extra.copy()
    fresh.__dict__.pop("_field", None)
    if filter_.method is not None:
        fresh.method = filter_.method  # a FilterMethod bound to the copy, not the original
    return fresh


class _RequestFilters(dict):
    """The class's filters; django-filter deep-copies them for every request (~1,000 copy
    calls through their choice lists and querysets), a shallow copy of each is enough."""

    def __deepcopy__(self, memo):
        return {name: _request_copy(filter_) for name, filter_ in self.items()}


class _RequestFields(dict):
    """The fields of one filter set's form, built by its filters for this request only: the
    form's deep copy of them (Django copies a form class's fields for each form) is not
    needed."""

    def __deepcopy__(self, memo):
        return dict(self)


class IssueFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    project = IdsFilter(queryset=None, distinct=False)
    status = AnyOfFilter(choices=Status.choices)
    type = AnyOfFilter(choices=IssueType.choices)
    priority = AnyOfFilter(choices=Priority.choices)
    severity = AnyOfFilter(choices=Severity.choices)
    owner = PersonFilter(
        method="filter_owner", label="Owner", keywords={ME: "Me", UNASSIGNED: "Unassigned"}
    )
    reporter = PersonFilter(method="filter_reporter", label="Reporter", keywords={ME: "Me"})
    team = IdFilter(queryset=Team.objects.all(), empty_label="Any team")
    component = IdFilter(
        queryset=Component.objects.none(), empty_label="Any component", label="Component"
    )
    affected_version = IdFilter(
        queryset=Version.objects.none(), empty_label="Any version", label="Affected version"
    )
    fix_version = IdFilter(
        queryset=Version.objects.none(), empty_label="Any version", label="Fix version"
    )
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

    def __init__(
        self, data=None, queryset=None, *, request=None, with_custom_fields=False, **kwargs
    ):
        if data is not None and "" in data.getlist("project"):
            # The "Any project" option submits an empty value; drop it from the several allowed.
            data = data.copy()
            data.setlist("project", [v for v in data.getlist("project") if v])
        super().__init__(data, queryset, request=request, **kwargs)
        # Custom-field filters (`cf_<slug>…`) of the projects the user sees, before the form
        # is built; their definitions are read only when the query string names one.
        # (The list page always offers them: `with_custom_fields`.)
        self.custom_filter_names: list[str] = []
        if with_custom_fields or wants_custom_filters(data):
            for name, filter_ in custom_filters(field_specs_for_request(request)).items():
                filter_.parent = self
                self.filters[name] = filter_
                self.custom_filter_names.append(name)
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
        self._limit_shape_choices([p.pk for p in visible], several=len(visible) > 1)
        # Owner and reporter are typed or picked: the page carries no list of members.
        for name in ("owner", "reporter"):
            self.form.fields[name].request = request
        for name in ("created", "updated"):
            for widget, end in zip(
                self.form.fields[name].widget.widgets, ("from", "to"), strict=True
            ):
                widget.input_type = "date"
                widget.attrs["class"] = "form-control form-control-sm"
                # Two inputs under one visual caption: each needs its own label.
                widget.attrs["aria-label"] = f"{name.capitalize()} {end}"
        style_widgets(self.form.fields)
        for name, field in self.form.fields.items():
            if name.startswith("cf_"):
                continue
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple) or name in ("created", "updated"):
                continue
            if isinstance(widget, forms.Select):
                widget.attrs["class"] = "form-select form-select-sm"
            else:
                widget.attrs["class"] = "form-control form-control-sm"

    def _limit_shape_choices(self, project_ids: list[int], *, several: bool) -> None:
        """Teams, and the components and versions of the visible projects only, read for the
        filter bar's lists in one statement; the filters validate against the same rows."""
        components = Component.objects.filter(project_id__in=project_ids)
        versions = Version.objects.filter(project_id__in=project_ids)
        choices: dict[str, list[tuple[int, str]]] = {"c": [], "v": [], "t": []}
        rows = selectors.filter_bar_rows(project_ids)
        for row in sorted(rows, key=lambda r: (r.kind, r.project_key, r.name.lower())):
            if row.kind == "t":
                continue
            text = f"{row.project_key} · {row.name}" if several else row.name
            choices[row.kind].append((row.pk, f"{text} (archived)" if row.archived else text))
        # Teams in the database's order of names (as Team's ordering gives them).
        choices["t"] = [(row.pk, row.name) for row in rows if row.kind == "t"]
        self.team_choices = [("", "Any team"), *choices["t"]]
        self.component_choices = [("", "Any component"), *choices["c"]]
        self.version_choices = [("", "Any version"), *choices["v"]]
        for name, queryset in (
            ("component", components),
            ("affected_version", versions),
            ("fix_version", versions),
        ):
            self.filters[name].queryset = queryset
            self.form.fields[name].queryset = queryset

    def get_form_class(self):
        form_class = super().get_form_class()
        form_class.base_fields = _RequestFields(form_class.base_fields)
        return form_class

    @property
    def custom_bound_fields(self) -> list:
        return [self.form[name] for name in self.custom_filter_names]

    @property
    def qs(self):
        qs = super().qs
        text = (self.form.cleaned_data.get("q") or "").strip()
        # The capped count needs no order and no bound: counting the first matches found is
        # the same number and stops early.
        self.count_qs = qs
        if not self.form.cleaned_data.get("sort"):
            if text:
                qs = best_matches_first(qs, text, base=self.queryset)
            else:
                qs = qs.order_by("-updated_at", "-pk")
        return qs

    @property
    def count_cap(self) -> int | None:
        """How far the list counts: a search counts (and ranks) at most SEARCH_CANDIDATES
        matches, a filter on a custom field at most CUSTOM_FILTER_COUNT_CAP; None for the
        list's own cap."""
        if not self.is_valid():
            return None
        data = self.form.cleaned_data
        if (data.get("q") or "").strip():
            return selectors.SEARCH_CANDIDATES
        if any(_given(data.get(name)) for name in self.custom_filter_names):
            return CUSTOM_FILTER_COUNT_CAP
        return None

    def _user_id(self, value: str):
        # PersonField cleaned it: `me` or a member's id.
        if value == ME:
            return self.request.user.pk
        return parse_id(value)

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


IssueFilter.base_filters = _RequestFilters(IssueFilter.base_filters)
