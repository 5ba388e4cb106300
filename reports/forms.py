"""The dashboard's filter bar: projects, team, date range (viewer's zone), type, severity."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.utils import timezone

from issues.inputs import IdModelChoiceField, IdModelMultipleChoiceField
from issues.models import IssueType, Severity
from projects.models import Team

RANGE_CHOICES = [
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("custom", "Custom"),
]
DEFAULT_RANGE = "30"
MAX_CUSTOM_DAYS = 366


class DashboardFilterForm(forms.Form):
    project = IdModelMultipleChoiceField(
        queryset=None,
        required=False,
        label="Projects",
        help_text="None selected: every project you can see.",
        widget=forms.SelectMultiple(attrs={"size": 3}),
    )
    team = IdModelChoiceField(
        queryset=Team.objects.order_by("name"), required=False, empty_label="Any team"
    )
    range = forms.ChoiceField(
        choices=RANGE_CHOICES, required=False, label="Period", initial=DEFAULT_RANGE
    )
    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    type = forms.ChoiceField(choices=[("", "Any type"), *IssueType.choices], required=False)
    severity = forms.TypedChoiceField(
        choices=[("", "Any severity"), *Severity.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )

    def __init__(self, *args, projects, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the projects the viewer may see: another project's id is "not a valid choice".
        self.fields["project"].queryset = projects
        for f in self.fields.values():
            select = isinstance(f.widget, forms.Select)
            f.widget.attrs.setdefault(
                "class", "form-select form-select-sm" if select else "form-control form-control-sm"
            )

    def clean(self):
        data = super().clean()
        # Dates without a period choice mean those dates (a link or a form without JS).
        typed_dates = bool(self.data.get("start") or self.data.get("end"))
        chosen = data.get("range") or ("custom" if typed_dates else DEFAULT_RANGE)
        data["range"] = chosen
        if chosen != "custom":
            return data
        start, end = data.get("start"), data.get("end")
        if start is None and "start" not in self.errors:
            self.add_error("start", "Choose the first day of the period.")
        if end is None and "end" not in self.errors:
            self.add_error("end", "Choose the last day of the period.")
        if start and end:
            if end < start:
                self.add_error("end", "The last day cannot be before the first day.")
            elif (end - start).days >= MAX_CUSTOM_DAYS:
                self.add_error("end", f"Choose at most {MAX_CUSTOM_DAYS} days.")
        return data

    def show_period(self, first: date, last: date) -> None:
        """Make the selector and the dates show the period the figures cover: the default
        period when nothing was chosen, the chosen one's days otherwise. A form with errors
        keeps what was typed (the page says it fell back to the default)."""
        if not self.is_bound:
            self.initial.update(range=DEFAULT_RANGE, start=first, end=last)
        elif self.is_valid():
            data = self.data.copy()
            data["range"] = self.cleaned_data["range"]
            data["start"], data["end"] = first.isoformat(), last.isoformat()
            self.data = data

    def period(self, today: date | None = None) -> tuple[date, date]:
        """First and last day (inclusive, viewer's zone) of the chosen period."""
        today = today or timezone.localdate()
        data = getattr(self, "cleaned_data", None) or {}
        chosen = data.get("range") or DEFAULT_RANGE
        if chosen == "custom" and data.get("start") and data.get("end"):
            return data["start"], data["end"]
        days = int(chosen) if chosen.isdigit() else int(DEFAULT_RANGE)
        return today - timedelta(days=days - 1), today
