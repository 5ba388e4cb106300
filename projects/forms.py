"""Forms of a project's shape (components, versions); they validate, the services save."""

from django import forms
from django.contrib.auth import get_user_model

from .models import Component, Project, Team, Version
from .services import DESCRIPTION_MAX, NAME_MAX


class ComponentForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX["component"])
    description = forms.CharField(
        max_length=DESCRIPTION_MAX, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    lead = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="No lead",
        help_text="New issues of this component go to the lead (a Developer, when available).",
        error_messages={"invalid_choice": "The lead must be a member of the project."},
    )
    default_team = forms.ModelChoiceField(
        queryset=Team.objects.all(),
        required=False,
        empty_label="No team",
        help_text="Else its least-loaded available Developer.",
    )

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead"].queryset = (
            get_user_model()
            .objects.filter(memberships__project=project, is_active=True)
            .order_by("username")
        )

    @classmethod
    def initial_from(cls, component: Component) -> dict:
        return {
            "name": component.name,
            "description": component.description,
            "lead": component.lead,
            "default_team": component.default_team,
            "archived": component.archived,
        }


class ComponentEditForm(ComponentForm):
    archived = forms.BooleanField(
        required=False, help_text="Archived: kept on its issues, offered for no new choice."
    )


class VersionForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX["version"])
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    released = forms.BooleanField(required=False)

    @classmethod
    def initial_from(cls, version: Version) -> dict:
        return {"name": version.name, "due_date": version.due_date, "released": version.released}
