"""Forms built from the transition table and the SLA policy model (parsing only: the rules
live in services.py)."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.utils import timezone

from issues.inputs import IdModelChoiceField
from issues.limits import REASON_MAX_CHARS
from issues.models import OPEN_STATUSES, Issue, Priority, Severity, Status

from .businesstime import (
    HORIZON_DAYS,
    BusinessCalendar,
    CalendarError,
    format_business_duration,
    is_known_country,
    no_working_time_text,
)
from .models import HoldReason, RootCause, SlaPolicy
from .selectors import developers_of
from .services import DISMISS_RESOLUTIONS
from .transitions import Actor, Need, Transition

TEXTAREA = forms.Textarea(attrs={"rows": 2})


class TransitionForm(forms.Form):
    expected_status = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, transition: Transition, issue: Issue, **kwargs):
        kwargs.setdefault("initial", {})["expected_status"] = issue.status
        kwargs.setdefault("prefix", transition.name)
        super().__init__(*args, **kwargs)
        self.transition = transition
        for f in transition.fields:
            required = f.need == Need.ALWAYS or (
                (f.need == Need.MAJOR and issue.severity >= Severity.MAJOR)
                or (f.need == Need.UNOWNED and issue.owner_id is None)
            )
            if f.name == "owner":
                field: forms.Field = IdModelChoiceField(
                    queryset=developers_of(issue.project), required=required, label=f.label
                )
                if issue.owner_id:
                    self.initial.setdefault("owner", issue.owner_id)
            elif f.name == "root_cause":
                field = forms.ChoiceField(
                    choices=[("", "—"), *RootCause.choices], required=required, label=f.label
                )
            elif f.name == "resolution":
                field = forms.ChoiceField(
                    choices=[(r.value, r.label) for r in DISMISS_RESOLUTIONS], label=f.label
                )
            elif f.name == "duplicate_of":
                field = forms.CharField(
                    required=False,
                    label=f.label,
                    max_length=20,
                    help_text=f"Key of the original, e.g. {issue.project.key}-1 (duplicates only).",
                )
            else:
                field = forms.CharField(
                    required=required, label=f.label, widget=TEXTAREA, max_length=REASON_MAX_CHARS
                )
            self.fields[f.name] = field

    def transition_data(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k != "expected_status"}
        if data.get("owner") is None:
            data.pop("owner", None)
        return data


class HoldForm(forms.Form):
    reason = forms.ChoiceField(choices=HoldReason.choices, label="Put the clock on hold")
    note = forms.CharField(required=False, max_length=500, label="Note")


class TransitionRulesForm(forms.Form):
    """One row of checkboxes per transition."""

    def __init__(self, *args, transitions, current: dict[str, frozenset[str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.transitions = transitions
        for t in transitions:
            self.fields[t.name] = forms.MultipleChoiceField(
                choices=Actor.choices,
                initial=sorted(current.get(t.name, t.actors)),
                widget=forms.CheckboxSelectMultiple,
                required=False,
                label=f"{t.source_labels} → {t.target_label} ({t.label})",
            )

    def rows(self):
        return [(t, self[t.name]) for t in self.transitions]


DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _fmt_minutes(m: int) -> str:
    return f"{(m // 60) % 24:02d}:{m % 60:02d}"


def format_day(spans) -> str:
    return ", ".join(f"{_fmt_minutes(s)}-{_fmt_minutes(e)}" for s, e in spans)


def parse_day(text: str) -> list[list[int]]:
    spans = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = SPAN.match(part)
        if not m:
            raise forms.ValidationError(f"“{part}” is not like 09:00-17:00.")
        h1, m1, h2, m2 = (int(x) for x in m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
            raise forms.ValidationError(f"“{part}” is not a time of day.")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            end += 24 * 60  # spans midnight
        spans.append([start, end])
    return spans


# Targets: hours with decimals ("0.33", "1.5 h") or units ("19 min 48 s", "1 h 30 min").
TARGET_PART = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(h|hours?|m|min|minutes?|s|sec|seconds?)\b", re.ASCII
)
UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
MIN_TARGET_SECONDS = 15 * 60
# The preview warns when a calendar's next working time is further away than this.
WAIT_WARNING_DAYS = 14
MAX_TARGET_SECONDS = 10000 * 3600


def parse_target(text: str) -> int:
    """A target as whole seconds. Hours with decimals are exact to the second for two
    decimals (0.01 h = 36 s); more decimals round to the nearest second, halves up."""
    value = text.strip().lower().replace(",", ".")
    plain = re.fullmatch(r"(\d{1,6}(?:\.\d{1,6})?)\s*(?:h|hours?)?", value, re.ASCII)
    if plain:
        seconds = Decimal(plain.group(1)) * 3600
    else:
        parts = TARGET_PART.findall(value)
        if not parts or TARGET_PART.sub("", value).strip():
            raise forms.ValidationError(
                f"“{text}” is not a duration: use hours (0.33, 1.5) or units (19 min 48 s)."
            )
        seconds = sum((Decimal(n) * UNIT_SECONDS[unit[0]] for n, unit in parts), start=Decimal(0))
    whole = int(seconds.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if whole < MIN_TARGET_SECONDS:
        raise forms.ValidationError("A target is at least 15 minutes (0.25 h).")
    if whole > MAX_TARGET_SECONDS:
        raise forms.ValidationError("A target is at most 10,000 hours.")
    return whole


def format_target(seconds: int) -> str:
    """How the form shows a stored target: hours as typed when they are exact with two
    decimals (``0.33``, ``4``, ``1.5``), else in units (``19 min 59 s``); either parses back
    to the same seconds."""
    if seconds % 36 == 0:
        hours = (Decimal(seconds) / 3600).normalize()
        return f"{hours:f}"
    hours, rest = divmod(seconds, 3600)
    mins, secs = divmod(rest, 60)
    parts = [
        f"{hours} h" if hours else "",
        f"{mins} min" if mins else "",
        f"{secs} s" if secs else "",
    ]
    return " ".join(p for p in parts if p)


class TargetField(forms.CharField):
    """A target duration; cleans to whole seconds."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")

    def prepare_value(self, value):
        if isinstance(value, int):
            return format_target(value)
        return value

    def clean(self, value):
        text = super().clean(value)
        if text in self.empty_values:
            return None
        return parse_target(text)


class SlaPolicyForm(forms.Form):
    """Edit a policy as a new draft version. Targets are in hours (or units), kept in seconds."""

    note = forms.CharField(max_length=200, label="Why the change (kept with the version)")
    time_zone = forms.ChoiceField(choices=[])
    holiday_country = forms.CharField(
        required=False, max_length=8, help_text="e.g. DE, US, GB: public holidays count as off."
    )
    holidays = forms.CharField(
        required=False,
        widget=TEXTAREA,
        help_text="Extra days off, YYYY-MM-DD, separated by commas or lines.",
    )
    warnings = forms.CharField(
        max_length=100,
        initial="75",
        help_text="Per cent of the target elapsed (50, 75, 90) or minutes before the "
        "deadline as negative numbers (-30).",
    )
    business_severities = forms.TypedMultipleChoiceField(
        coerce=int,
        choices=Severity.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Severities measured in business hours (the others run 24×7)",
    )
    paused_statuses = forms.MultipleChoiceField(
        choices=[(s.value, s.label) for s in OPEN_STATUSES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Statuses in which the clock pauses",
    )

    def __init__(self, *args, policy: SlaPolicy, **kwargs):
        super().__init__(*args, **kwargs)
        self.calendar_warnings: list[str] = []
        self.fields["time_zone"].choices = [(z, z) for z in sorted(zoneinfo.available_timezones())]
        for i, day in enumerate(DAYS):
            self.fields[f"day_{i}"] = forms.CharField(
                required=False, label=day, initial=format_day(policy.working_hours[i])
            )
        for p in reversed(Priority):
            for s in reversed(Severity):
                self.fields[f"res_{p.value}_{s.value}"] = TargetField(
                    label=f"{p.label} + {s.label}",
                    initial=policy.resolution_target(p, s),
                )
        for s in reversed(Severity):
            self.fields[f"resp_{s.value}"] = TargetField(
                label=f"Response, {s.label}",
                initial=policy.response_target(s),
            )
        self.initial.setdefault("time_zone", policy.time_zone)
        self.initial.setdefault("holiday_country", policy.holiday_country)
        self.initial.setdefault("holidays", ", ".join(policy.holidays))
        self.initial.setdefault("warnings", ", ".join(str(w) for w in policy.warnings))
        self.initial.setdefault("business_severities", list(policy.business_severities))
        self.initial.setdefault("paused_statuses", list(policy.paused_statuses))

    def resolution_rows(self):
        return [
            (p.label, [self[f"res_{p.value}_{s.value}"] for s in reversed(Severity)])
            for p in reversed(Priority)
        ]

    def severity_labels(self):
        return [s.label for s in reversed(Severity)]

    def response_fields(self):
        return [self[f"resp_{s.value}"] for s in reversed(Severity)]

    def day_fields(self):
        return [self[f"day_{i}"] for i in range(7)]

    def clean_holiday_country(self):
        country = self.cleaned_data["holiday_country"].strip().upper()
        if country and not is_known_country(country):
            raise forms.ValidationError("The holidays package does not know this country code.")
        return country

    def clean_holidays(self):
        out = []
        for part in re.split(r"[\s,]+", self.cleaned_data["holidays"]):
            if not part:
                continue
            try:
                out.append(date.fromisoformat(part).isoformat())
            except ValueError:
                raise forms.ValidationError(f"“{part}” is not a date like 2026-12-24.") from None
        return sorted(set(out))

    def clean_warnings(self):
        values = []
        for part in filter(None, (p.strip() for p in self.cleaned_data["warnings"].split(","))):
            try:
                value = int(part.rstrip("%").strip())
            except ValueError:
                raise forms.ValidationError(f"“{part}” is not a whole number.") from None
            if value == 0 or value >= 100 or value < -10000:
                raise forms.ValidationError("Use 1–99 (per cent) or a negative number of minutes.")
            values.append(value)
        return sorted(set(values), key=lambda v: (v < 0, v))

    def clean(self):
        cleaned = super().clean()
        week = []
        for i in range(7):
            name = f"day_{i}"
            try:
                week.append(parse_day(cleaned.get(name, "") or ""))
            except forms.ValidationError as e:
                self.add_error(name, e)
        if len(week) == 7 and not self.errors:
            try:
                calendar = BusinessCalendar(
                    time_zone=cleaned["time_zone"],
                    week=tuple(tuple((s, e) for s, e in day) for day in week),
                    holidays=frozenset(date.fromisoformat(d) for d in cleaned["holidays"]),
                    country=cleaned.get("holiday_country", ""),
                )
            except CalendarError as e:
                self.add_error(None, str(e))
            else:
                self._check_reachable(calendar, cleaned)
        cleaned["working_hours"] = week
        return cleaned

    def _check_reachable(self, calendar: BusinessCalendar, cleaned: dict) -> None:
        """Refuse a calendar that cannot meet the targets from today; warn about a long wait
        before its next working time (shown with the preview)."""
        targets = [
            v for k, v in cleaned.items() if k.startswith(("res_", "resp_")) and v is not None
        ]
        if not targets:
            return
        now = timezone.now()
        if calendar.add(now, timedelta(seconds=min(targets))) is None:
            self.add_error(
                None,
                f"This calendar has {no_working_time_text()} from today (holidays and working "
                "hours together): no target could ever be met. Add working time.",
            )
            return
        longest = max(targets)
        if calendar.add(now, timedelta(seconds=longest)) is None:
            self.add_error(
                None,
                f"The longest target ({format_business_duration(timedelta(seconds=longest))}) does not fit in the next "
                f"{HORIZON_DAYS} days of this calendar. Shorten it or add working time.",
            )
            return
        first = calendar.next_working_moment(now)
        if first is not None and first - now > timedelta(days=WAIT_WARNING_DAYS):
            self.calendar_warnings.append(
                f"No working time for the next {(first - now).days} days: every clock started "
                f"now waits until {first:%Y-%m-%d} before it counts."
            )

    def draft(self, project) -> SlaPolicy:
        """An unsaved policy with the form's values (preview, then apply)."""
        c = self.cleaned_data
        return SlaPolicy(
            project=project,
            version=0,
            note=c["note"],
            time_zone=c["time_zone"],
            working_hours=c["working_hours"],
            holidays=c["holidays"],
            holiday_country=c["holiday_country"],
            warnings=c["warnings"],
            business_severities=sorted(c["business_severities"]),
            paused_statuses=[s for s in c["paused_statuses"] if s in Status.values],
            resolution_target_seconds={
                f"{p.value}:{s.value}": c[f"res_{p.value}_{s.value}"]
                for p in Priority
                for s in Severity
            },
            response_target_seconds={str(s.value): c[f"resp_{s.value}"] for s in Severity},
        )
