from django import forms

from issues.models import Severity
from projects.models import Team
from projects.selectors import eligible_owners
from workflows.models import AssignmentRule

from .models import IntakeSettings

LEVELS = ("fatal", "critical", "error", "warning", "info", "debug")


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=80, help_text="What will use it, e.g. “Sentry production” or “Alertmanager”."
    )


class IntakeSettingsForm(forms.Form):
    threshold = forms.IntegerField(
        min_value=1,
        max_value=100_000,
        help_text="Events of one group needed within the window before an issue is filed.",
    )
    window_minutes = forms.IntegerField(
        min_value=1, max_value=60 * 24 * 30, label="Window (minutes)"
    )
    regression_policy = forms.ChoiceField(
        choices=IntakeSettings._meta.get_field("regression_policy").choices,
        help_text="What an event does to an issue that is Fixed or Closed (won't fix only counts).",
    )
    rate_limit_per_minute = forms.IntegerField(
        min_value=1, max_value=100_000, label="Rate limit (requests a minute per token)"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for level in LEVELS:
            self.fields[f"level_{level}"] = forms.TypedChoiceField(
                label=f"Severity for “{level}”", choices=Severity.choices, coerce=int
            )

    @classmethod
    def initial_from(cls, row: IntakeSettings) -> dict:
        initial = {
            "threshold": row.threshold,
            "window_minutes": row.window_minutes,
            "regression_policy": row.regression_policy,
            "rate_limit_per_minute": row.rate_limit_per_minute,
        }
        for level in LEVELS:
            initial[f"level_{level}"] = row.severity_for(level)
        return initial

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "threshold": data["threshold"],
            "window_minutes": data["window_minutes"],
            "regression_policy": data["regression_policy"],
            "rate_limit_per_minute": data["rate_limit_per_minute"],
            "level_severity": {level: data[f"level_{level}"] for level in LEVELS},
        }


class RuleForm(forms.ModelForm):
    class Meta:
        model = AssignmentRule
        fields = ["position", "match_component", "match_label", "owner", "team", "component"]
        labels = {"component": "Set component"}

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)

        self.fields["owner"].queryset = eligible_owners(project)
        self.fields["team"].queryset = Team.objects.all()
        self.fields["owner"].required = False
        self.fields["team"].required = False
        self.fields["component"].required = False
        self.fields["component"].queryset = project.components.active()

    def clean(self):
        data = super().clean()
        if data.get("owner") and data.get("team"):
            raise forms.ValidationError("Choose either an owner or a team (one of the two).")
        if not (data.get("owner") or data.get("team") or data.get("component")):
            raise forms.ValidationError(
                "Choose an owner, a team, or a component (routed to its lead or team)."
            )
        return data


class AvailabilityForm(forms.Form):
    away_until = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Out of office until this day (inclusive). Leave empty when you are back.",
    )
    note = forms.CharField(max_length=120, required=False)


class DsnForm(forms.Form):
    name = forms.CharField(
        max_length=80, help_text="The application that will report, e.g. “Shop backend”."
    )


class DataProtectionForm(forms.Form):
    """What is removed from errors sent by Sentry SDKs (on top of the built-in list)."""

    scrub_fields = forms.CharField(
        required=False,
        max_length=2000,
        label="Extra fields to scrub",
        help_text="Comma-separated field names whose values are removed, e.g. “ssn, tax_id”.",
    )
    drop_local_vars = forms.BooleanField(required=False, label="Drop local variables of frames")
    drop_ip_addresses = forms.BooleanField(required=False, label="Drop IP addresses")
    sdk_retention_days = forms.IntegerField(
        min_value=1, max_value=3650, label="Keep raw events for (days)"
    )
    sdk_events_per_group = forms.IntegerField(
        min_value=1, max_value=100_000, label="Keep at most this many raw events per error"
    )

    @staticmethod
    def initial_from(cfg: IntakeSettings) -> dict:
        return {
            "scrub_fields": ", ".join(cfg.scrub_fields or []),
            "drop_local_vars": cfg.drop_local_vars,
            "drop_ip_addresses": cfg.drop_ip_addresses,
            "sdk_retention_days": cfg.sdk_retention_days,
            "sdk_events_per_group": cfg.sdk_events_per_group,
        }

    def clean_scrub_fields(self) -> list[str]:
        names = [n.strip().lower() for n in self.cleaned_data["scrub_fields"].split(",")]
        names = [n for n in names if n]
        for name in names:
            if (
                len(name) > 64
                or not name.replace("_", "").replace("-", "").isalnum()
                or not name.isascii()
            ):
                raise forms.ValidationError(
                    f"“{name[:64]}” is not a field name (letters, digits, _ and -)."
                )
        return names[:50]
