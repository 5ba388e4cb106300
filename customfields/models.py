"""Custom fields: a project's own facts about its issues (definitions, choices, values).

Values live in one typed table (`CustomFieldValue`): a column per kind of value, so a number
compares as a number and a date as a date, each kind has a b-tree index led by the field, and
a choice or a person is a foreign key (renaming a choice rewrites no issue). A multiple choice
is one row per chosen option. See the README (Custom fields) for why not JSONB.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from issues.models import IssueType, Status

SLUG_MAX_CHARS = 40
NAME_MAX_CHARS = 80
TEXT_VALUE_MAX_CHARS = 255
LONG_TEXT_VALUE_MAX_CHARS = 10_000
URL_VALUE_MAX_CHARS = 500
OPTION_MAX_CHARS = 80
# Numbers: up to 14 digits before the point and 4 after.
NUMBER_MAX_DIGITS = 18
NUMBER_DECIMAL_PLACES = 4


class FieldKind(models.TextChoices):
    TEXT = "text", "Text"
    LONG_TEXT = "long_text", "Long text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    CHOICE = "choice", "Single choice"
    MULTI_CHOICE = "multi_choice", "Multiple choice"
    USER = "user", "User (a project member)"
    URL = "url", "URL"
    CHECKBOX = "checkbox", "Checkbox"


CHOICE_KINDS = (FieldKind.CHOICE, FieldKind.MULTI_CHOICE)


class CustomField(models.Model):
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="custom_fields"
    )
    name = models.CharField(max_length=NAME_MAX_CHARS)
    # Stable: the API's key, the list's column and filter names, issue templates name it.
    slug = models.SlugField(max_length=SLUG_MAX_CHARS)
    kind = models.CharField(max_length=16, choices=FieldKind.choices)
    help_text = models.CharField(max_length=200, blank=True)
    required = models.BooleanField(default=False)
    # Empty: required on the forms (when `required`). A status: required from the transitions
    # into that status or a later one on (the workflow's guard), optional before.
    required_from = models.CharField(max_length=16, choices=Status.choices, blank=True)
    # Empty: every type. Else the issue types (IssueType values) the field applies to.
    issue_types = models.JSONField(default=list, blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["project", "slug"], name="unique_custom_field_slug")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_choice(self) -> bool:
        return self.kind in CHOICE_KINDS

    def applies_to(self, issue_type: str) -> bool:
        return not self.issue_types or issue_type in self.issue_types

    @property
    def issue_types_text(self) -> str:
        if not self.issue_types:
            return "All types"
        labels = dict(IssueType.choices)
        return ", ".join(str(labels.get(t, t)) for t in self.issue_types)

    @property
    def requirement_text(self) -> str:
        if not self.required:
            return "Optional"
        if self.required_from:
            return f"Required from {Status(self.required_from).label} on"
        return "Required"


class CustomFieldOption(models.Model):
    field = models.ForeignKey(CustomField, on_delete=models.CASCADE, related_name="options")
    label = models.CharField(max_length=OPTION_MAX_CHARS)
    order = models.PositiveSmallIntegerField(default=0)
    # Archived options stay on the issues that have them; they are no longer offered.
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "label", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["field", "label"], name="unique_custom_option_label")
        ]

    def __str__(self) -> str:
        return self.label


class CustomFieldValue(models.Model):
    """One value of one field on one issue (a multiple choice: one row per option)."""

    issue = models.ForeignKey(
        "issues.Issue", on_delete=models.CASCADE, related_name="custom_values"
    )
    field = models.ForeignKey(CustomField, on_delete=models.CASCADE, related_name="values")
    text = models.TextField(blank=True)
    number = models.DecimalField(
        max_digits=NUMBER_MAX_DIGITS, decimal_places=NUMBER_DECIMAL_PLACES, null=True
    )
    date = models.DateField(null=True)
    flag = models.BooleanField(null=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    option = models.ForeignKey(
        CustomFieldOption, on_delete=models.PROTECT, null=True, related_name="values"
    )

    class Meta:
        # Each filter reads one of these: led by the field, then the value, then the issue, so
        # "issues whose Environment is Production" is an index-only range of issue ids.
        indexes = [
            models.Index(fields=["field", "option", "issue"], name="cfvalue_option"),
            models.Index(fields=["field", "number", "issue"], name="cfvalue_number"),
            models.Index(fields=["field", "date", "issue"], name="cfvalue_date"),
            models.Index(fields=["field", "user", "issue"], name="cfvalue_user"),
            models.Index(fields=["field", "flag", "issue"], name="cfvalue_flag"),
        ]
        constraints = [
            # Led by the issue: an issue's values (page, row cells, export) are one range.
            models.UniqueConstraint(
                fields=["issue", "field"],
                condition=Q(option__isnull=True),
                name="unique_custom_value",
            ),
            models.UniqueConstraint(
                fields=["issue", "field", "option"],
                condition=Q(option__isnull=False),
                name="unique_custom_value_option",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.field_id}={self.pk}"
