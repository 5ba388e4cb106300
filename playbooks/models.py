"""Issue templates and playbooks (layer: above `issues`, below `workflows`, which copies a
playbook onto an issue when it is assigned and enforces "complete before …").

A template is a slot per project and issue type; its content lives in immutable
`TemplateVersion` rows (editing makes a new version), so an issue filed with version 3 keeps
version 3's text and playbook whatever happens to the template later.
"""

from django.conf import settings
from django.db import models


class IssueTemplate(models.Model):
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="issue_templates"
    )
    type = models.CharField(max_length=16)
    current = models.ForeignKey(
        "TemplateVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "type"]
        constraints = [
            models.UniqueConstraint(fields=["project", "type"], name="one_template_per_type")
        ]

    def __str__(self) -> str:
        return f"{self.project.key} {self.type} template"


class TemplateVersion(models.Model):
    """One immutable version of a template and its playbook."""

    template = models.ForeignKey(IssueTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    priority = models.PositiveSmallIntegerField(null=True, blank=True)
    severity = models.PositiveSmallIntegerField(null=True, blank=True)
    label_names = models.JSONField(default=list, blank=True)
    # Wired at merge with the components work: the id of a projects.Component of the project,
    # resolved (and ignored when gone or archived) when the template is applied.
    default_component_id = models.PositiveIntegerField(null=True, blank=True)
    # Slugs of the project's custom fields the form shows for this type (custom-fields work).
    shown_fields = models.JSONField(default=list, blank=True)
    playbook_name = models.CharField(max_length=80, blank=True)
    # "Complete before": a status the playbook must be complete to enter (blank: never), only
    # for issues of at least this severity (null: any severity).
    complete_before = models.CharField(max_length=16, blank=True)
    complete_min_severity = models.PositiveSmallIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="unique_template_version")
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"


class PlaybookItem(models.Model):
    version = models.ForeignKey(TemplateVersion, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=200)
    required = models.BooleanField(default=False)

    class Meta:
        ordering = ["version", "position"]

    def __str__(self) -> str:
        return self.text


class FiledWith(models.Model):
    """The template version an issue was filed with (written by the new-issue form)."""

    issue = models.OneToOneField(
        "issues.Issue", on_delete=models.CASCADE, primary_key=True, related_name="filed_with"
    )
    version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"issue {self.issue_id} filed with {self.version_id}"


class IssueChecklist(models.Model):
    """A playbook copied onto an issue when it was assigned; counts kept for the list/board."""

    issue = models.OneToOneField("issues.Issue", on_delete=models.CASCADE, related_name="checklist")
    version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=80, blank=True)
    complete_before = models.CharField(max_length=16, blank=True)
    complete_min_severity = models.PositiveSmallIntegerField(null=True, blank=True)
    total_count = models.PositiveSmallIntegerField(default=0)
    done_count = models.PositiveSmallIntegerField(default=0)
    required_open = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"checklist of issue {self.issue_id}"

    @property
    def progress(self) -> str:
        return f"{self.done_count}/{self.total_count}"


class ChecklistItem(models.Model):
    checklist = models.ForeignKey(IssueChecklist, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=200)
    required = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The name as shown when ticked (a renamed or deleted person still reads as they did).
    done_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["checklist", "position"]

    def __str__(self) -> str:
        return self.text
