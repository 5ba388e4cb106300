"""The template editor on the project's settings pages; it hands a TemplateDraft to the service."""

from django import forms

from issues.models import Priority, Severity, Status

from .services import DESCRIPTION_MAX_CHARS, TemplateDraft

REQUIRED_MARK = "*"


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def items_text(version) -> str:
    if version is None:
        return ""
    return "\n".join(
        f"{REQUIRED_MARK} {i.text}" if i.required else i.text for i in version.items.all()
    )


class TemplateForm(forms.Form):
    description = forms.CharField(
        required=False,
        max_length=DESCRIPTION_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text="Markdown the new-issue form starts with, e.g. “## Steps to reproduce”.",
    )
    priority = forms.TypedChoiceField(
        choices=[("", "Form default"), *Priority.choices], coerce=int, required=False,
        empty_value=None, label="Default priority",
    )  # fmt: skip
    severity = forms.TypedChoiceField(
        choices=[("", "Form default"), *Severity.choices], coerce=int, required=False,
        empty_value=None, label="Default severity",
    )  # fmt: skip
    labels = forms.CharField(
        required=False, max_length=1000, help_text="Label names of the project, comma-separated."
    )
    default_component_id = forms.TypedChoiceField(
        choices=[("", "None")], coerce=int, required=False, empty_value=None,
        label="Default component",
    )  # fmt: skip
    shown_fields = forms.CharField(
        required=False,
        max_length=1000,
        label="Custom fields shown",
        help_text="Slugs of the project's custom fields, comma-separated.",
    )
    playbook_name = forms.CharField(required=False, max_length=80)
    items = forms.CharField(
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        label="Playbook items",
        help_text=f"One per line; start a line with “{REQUIRED_MARK}” to make it required.",
    )
    complete_before = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Never required"),
            (Status.RETEST, "Retest"),
            (Status.FIXED, "Fixed"),
            (Status.CLOSED, "Closed"),
        ],
        label="Playbook complete before",
    )
    complete_min_severity = forms.TypedChoiceField(
        choices=[("", "Any severity"), *Severity.choices], coerce=int, required=False,
        empty_value=None, label="Only for severity at least",
    )  # fmt: skip

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        # The project's live components by name (a version names one by id: a component
        # archived since stays chosen in versions already saved, and is simply not applied).
        self.fields["default_component_id"].choices = [
            ("", "None"),
            *project.components.active().order_by("name").values_list("pk", "name"),
        ]

    @classmethod
    def initial_of(cls, version) -> dict:
        if version is None:
            return {}
        return {
            "description": version.description,
            "priority": version.priority,
            "severity": version.severity,
            "labels": ", ".join(version.label_names),
            "default_component_id": version.default_component_id,
            "shown_fields": ", ".join(version.shown_fields),
            "playbook_name": version.playbook_name,
            "items": items_text(version),
            "complete_before": version.complete_before,
            "complete_min_severity": version.complete_min_severity,
        }

    def draft(self) -> TemplateDraft:
        data = self.cleaned_data
        items = []
        for line in data["items"].splitlines():
            line = line.strip()
            if not line:
                continue
            required = line.startswith(REQUIRED_MARK)
            items.append((line.lstrip(REQUIRED_MARK).strip() if required else line, required))
        return TemplateDraft(
            description=data["description"],
            priority=data["priority"],
            severity=data["severity"],
            label_names=_split(data["labels"]),
            default_component_id=data["default_component_id"],
            shown_fields=_split(data["shown_fields"]),
            playbook_name=data["playbook_name"],
            items=items,
            complete_before=data["complete_before"],
            complete_min_severity=data["complete_min_severity"],
        )
