"""Forms validate input and hand clean values to the services; they never save themselves."""

from django import forms
from django.conf import settings
from django.urls import reverse

from projects.models import Project, Team
from projects.selectors import (
    OWNER_ROLES_TEXT,
    component_refusal,
    components_offered,
    may_own,
    owner_candidates,
    owner_refusal,
    projects_visible_to,
    version_refusal,
    versions_offered,
)
from workflows.services import sla_change_needs_reason

from .inputs import BoundedIntegerField, IdModelChoiceField, IdModelMultipleChoiceField, parse_id
from .limits import (
    ENVIRONMENT_MAX_CHARS,
    LABEL_MAX_CHARS,
    TEXT_MAX_CHARS,
    TITLE_MAX_CHARS,
    max_length_errors,
)
from .models import IssueType, Label, LinkKind, Priority, Severity


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def _check_size(upload) -> None:
    if upload is not None and upload.size > settings.ATTACHMENT_MAX_BYTES:
        limit_mb = settings.ATTACHMENT_MAX_BYTES / (1024 * 1024)
        raise forms.ValidationError(
            f"“{upload.name}” is too large: files may be at most {limit_mb:.0f} MB."
        )


class IssueFieldsForm(forms.Form):
    """The fields shared by the new and edit forms (never the status: workflows owns it)."""

    title = forms.CharField(
        max_length=TITLE_MAX_CHARS, error_messages=max_length_errors("The title", TITLE_MAX_CHARS)
    )
    description = forms.CharField(
        max_length=TEXT_MAX_CHARS,
        error_messages=max_length_errors("The description", TEXT_MAX_CHARS),
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        help_text="Markdown. HTML is stripped to a safe subset.",
    )
    type = forms.ChoiceField(choices=IssueType.choices, initial=IssueType.BUG)
    priority = forms.TypedChoiceField(choices=Priority.choices, coerce=int, initial=Priority.MEDIUM)
    severity = forms.TypedChoiceField(choices=Severity.choices, coerce=int, initial=Severity.MINOR)
    owner = IdModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Unassigned",
        help_text=f"Owners are {OWNER_ROLES_TEXT}s of the project.",
        error_messages={"invalid_choice": f"The owner must be {OWNER_ROLES_TEXT} of the project."},
    )
    team = IdModelChoiceField(queryset=Team.objects.all(), required=False, empty_label="No team")
    labels = IdModelMultipleChoiceField(queryset=None, required=False)
    environment = forms.CharField(max_length=ENVIRONMENT_MAX_CHARS, required=False)
    component = IdModelChoiceField(
        queryset=None,
        required=False,
        empty_label="No component",
        error_messages={"invalid_choice": "Choose an active component of the issue's project."},
    )
    affected_version = IdModelChoiceField(
        queryset=None,
        required=False,
        empty_label="—",
        error_messages={"invalid_choice": "Choose a version of the issue's project."},
    )
    fix_version = IdModelChoiceField(
        queryset=None,
        required=False,
        empty_label="—",
        error_messages={"invalid_choice": "Choose a version of the issue's project."},
    )

    def _limit_to_projects(self, projects, *, current_component=None) -> None:
        self.fields["owner"].queryset = owner_candidates(projects)
        self.fields["labels"].queryset = Label.objects.filter(project__in=projects)
        self.fields["component"].queryset = components_offered(projects, current=current_component)
        self.fields["affected_version"].queryset = versions_offered(projects)
        self.fields["fix_version"].queryset = versions_offered(projects)
        # Several projects on the new form: the project's key tells the options apart.
        several = not isinstance(projects, list) or len(projects) > 1
        for name in ("component", "affected_version", "fix_version"):
            field = self.fields[name]
            field.label_from_instance = (
                (lambda obj: f"{obj.project.key} · {obj.name}") if several else str
            )

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError("A title is required.")
        return title

    def _check_project_fit(self, project: Project) -> None:
        owner = self.cleaned_data.get("owner")
        if owner is not None and not may_own(owner, project):
            self.add_error("owner", owner_refusal(project))
        labels = self.cleaned_data.get("labels") or []
        if any(label.project_id != project.pk for label in labels):
            self.add_error("labels", f"Choose labels of {project.key}.")
        component = self.cleaned_data.get("component")
        if component is not None and component.project_id != project.pk:
            self.add_error("component", component_refusal(project))
        for name in ("affected_version", "fix_version"):
            version = self.cleaned_data.get(name)
            if version is not None and version.project_id != project.pk:
                self.add_error(name, version_refusal(project))


class IssueCreateForm(IssueFieldsForm):
    project = IdModelChoiceField(queryset=None, empty_label="Choose a project")
    attachment = forms.FileField(required=False, help_text="Optional file.")
    # The template version the form last applied (playbooks): tells the view which text and
    # defaults are still the template's when the type or project switches the template.
    template_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    field_order = ["project", "title", "description"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        projects = projects_visible_to(user).active()
        self.fields["project"].queryset = projects
        self._limit_to_projects(projects)
        # Choosing a project or a type re-renders the fields with that template applied
        # (htmx; without JavaScript the form's "Apply template" button does the same).
        for name in ("project", "type"):
            self.fields[name].widget.attrs.update(
                {
                    "hx-post": reverse("issue_new"),
                    "hx-trigger": "change",
                    "hx-target": "#issue-form-fields",
                    "hx-swap": "outerHTML",
                    "hx-include": "#issue-form",
                    "hx-vals": '{"apply_template": "1"}',
                    # What is typed while the template loads would be lost in the swap:
                    # the text boxes wait (the values were already sent, and come back).
                    "hx-disabled-elt": "#issue-form-fields input[type=text], "
                    "#issue-form-fields textarea",
                }
            )
        # Likely duplicates appear under the title while typing (htmx; the form works without).
        self.fields["title"].widget.attrs.update(
            {
                "hx-get": reverse("issue_similar"),
                "hx-trigger": "input changed delay:400ms, change",
                "hx-target": "#similar",
                "hx-include": "[name=project]",
                "autocomplete": "off",
            }
        )

    def clean_attachment(self):
        upload = self.cleaned_data.get("attachment")
        _check_size(upload)
        return upload

    def clean(self):
        cleaned = super().clean()
        project = cleaned.get("project")
        if project is not None:
            self._check_project_fit(project)
        return cleaned


class IssueEditForm(IssueFieldsForm):
    version = BoundedIntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed when a priority or severity change moves the SLA deadline.",
    )

    def __init__(self, *args, issue, **kwargs):
        self.issue = issue
        super().__init__(*args, **kwargs)
        self._limit_to_projects([issue.project], current_component=issue.component)

    def clean(self):
        cleaned = super().clean()
        self._check_project_fit(self.issue.project)
        priority = cleaned.get("priority", self.issue.priority)
        severity = cleaned.get("severity", self.issue.severity)
        moved = priority != self.issue.priority or severity != self.issue.severity
        if (
            moved
            and not cleaned.get("reason", "").strip()
            and sla_change_needs_reason(self.issue, priority=priority, severity=severity)
        ):
            self.add_error("reason", "This change moves the SLA deadline: say why.")
        return cleaned

    def changes(self) -> dict:
        # Custom fields (`cf_<slug>`, added by the view) are saved by customfields' services.
        fields = [
            f for f in self.fields if f not in ("version", "reason") and not f.startswith("cf_")
        ]
        return {f: self.cleaned_data[f] for f in fields}


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment",
        required=False,
        max_length=TEXT_MAX_CHARS,
        error_messages=max_length_errors("A comment", TEXT_MAX_CHARS),
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "Markdown; @username mentions"}),
    )
    files = MultipleFileField(required=False, label="Attach files")

    def clean_files(self):
        files = self.cleaned_data.get("files") or []
        for upload in files:
            _check_size(upload)
        return files

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("body") or "").strip() and not cleaned.get("files"):
            self.add_error("body", "Write a comment or attach a file.")
        return cleaned


class AttachmentForm(forms.Form):
    file = forms.FileField()

    def clean_file(self):
        upload = self.cleaned_data["file"]
        _check_size(upload)
        return upload


class LinkForm(forms.Form):
    kind = forms.ChoiceField(choices=LinkKind.choices)
    target = forms.CharField(
        max_length=30, label="Issue key", widget=forms.TextInput(attrs={"placeholder": "WEB-42"})
    )

    @classmethod
    def refused(cls, message: str) -> "LinkForm":
        """An empty form carrying a refusal to show in the Links panel (a removal refused)."""
        form = cls()
        form.cleaned_data = {}
        form.add_error(None, message)
        return form


class BulkForm(forms.Form):
    issues = forms.TypedMultipleChoiceField(coerce=parse_id, choices=[], label="Selected issues")
    # "unassigned", a username or a user id; the view resolves it among the user's projects.
    owner = forms.CharField(required=False, max_length=150)
    priority = forms.TypedChoiceField(
        choices=[("", "—"), *Priority.choices], coerce=int, required=False, empty_value=None
    )
    severity = forms.TypedChoiceField(
        choices=[("", "—"), *Severity.choices], coerce=int, required=False, empty_value=None
    )
    label = forms.CharField(max_length=LABEL_MAX_CHARS, required=False)
    component = forms.CharField(
        max_length=80,
        required=False,
        help_text="A component's name (in each issue's project), or “none” to clear it.",
    )
    reason = forms.CharField(max_length=500, required=False)

    def __init__(self, *args, issue_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["issues"].choices = [(pk, pk) for pk in issue_ids]

    def clean(self):
        cleaned = super().clean()
        if not (
            cleaned.get("owner")
            or cleaned.get("priority")
            or cleaned.get("severity")
            or (cleaned.get("label") or "").strip()
            or (cleaned.get("component") or "").strip()
        ):
            raise forms.ValidationError("Choose what to change for the selected issues.")
        return cleaned


class SaveFilterForm(forms.Form):
    name = forms.CharField(max_length=80)
    query = forms.CharField(max_length=1000, required=False)
