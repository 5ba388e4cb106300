"""The demo's custom fields (seed_demo): WEB asks for "Affected customers" (a number,
required before Assigned) and "Deployment stage" (a single choice, beside the built-in free-text
Environment); some issues have values."""

from issues.models import Issue
from projects.models import Project

from .models import CustomField, FieldKind
from .services import create_custom_field, set_custom_values

DEMO_VALUES = [
    {"affected_customers": 1200, "env": "Production"},
    {"affected_customers": 35, "env": "Production"},
    {"env": "Staging"},
    {"affected_customers": 3, "env": "Local"},
    {"affected_customers": 480, "env": "Production"},
]


def seed_custom_fields_demo(project: Project, *, actor) -> None:
    """Idempotent: creates the two fields once, and fills in values on the project's first
    issues once (recorded in their activity as the actor's edits)."""
    if CustomField.objects.filter(project=project).exists():
        return
    create_custom_field(
        project,
        name="Affected customers",
        slug="affected_customers",
        kind=FieldKind.NUMBER,
        help_text="How many customers are affected (an estimate is fine).",
        required=True,
        required_from="assigned",
        order=1,
    )
    create_custom_field(
        project,
        name="Deployment stage",
        slug="env",
        kind=FieldKind.CHOICE,
        help_text="Which deployment it was seen on.",
        options="Production\nStaging\nLocal",
        order=2,
    )
    issues = Issue.objects.filter(project=project).order_by("number")[: len(DEMO_VALUES)]
    for issue, values in zip(issues, DEMO_VALUES, strict=False):
        set_custom_values(issue, actor=actor, values=values)
