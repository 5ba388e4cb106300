"""Demo data (`seed_demo`): a template per type on one project, a security playbook and an
issue that has it partly ticked. Idempotent: nothing happens once the project has templates."""

from issues.models import IssueType, Priority, Severity, Status
from projects.models import Project

from .models import IssueTemplate, TemplateVersion
from .selectors import current_version
from .services import TemplateDraft, save_template, tick_item

BUG_SECTIONS = "## Steps to reproduce\n\n1. \n\n## Expected\n\n## Actual\n\n## Environment\n"
SECTIONS = {
    IssueType.BUG: BUG_SECTIONS,
    IssueType.PERFORMANCE: "## What is slow\n\n## Measured (p50 / p95)\n\n## Target\n\n"
    "## Environment\n",
    IssueType.UI_UX: "## Screen\n\n## What is confusing\n\n## Suggestion\n",
    IssueType.COMPATIBILITY: "## Browser / OS / device\n\n## Steps to reproduce\n\n"
    "## Expected\n\n## Actual\n",
    IssueType.COMPLIANCE: "## Rule or regulation\n\n## Where we fall short\n\n## Deadline\n",
    IssueType.SEO: "## Page(s)\n\n## Problem\n\n## Evidence (search console, crawler)\n",
    IssueType.SECURITY: "## Affected systems\n\n## How it was found\n\n## Exposure\n\n"
    "## Data involved\n",
    IssueType.TASK: "## Goal\n\n## Done when\n",
}
SECURITY_PLAYBOOK = [
    ("Contain: revoke the leaked access", True),
    ("Rotate affected credentials", True),
    ("Notify the DPO within 72 h", True),
    ("Check the access logs for misuse", False),
    ("Write the post-mortem", False),
]


def seed_playbooks_demo(project: Project, *, manager) -> TemplateVersion | None:
    """The templates; returns the security template's version, for seed_demo to file
    SECURITY_DEMO_ISSUE with (filing is a use case of the workflows layer above)."""
    if IssueTemplate.objects.filter(project=project).exists():
        return None
    for type_, text in SECTIONS.items():
        security = type_ == IssueType.SECURITY
        save_template(
            project,
            type_,
            actor=manager,
            draft=TemplateDraft(
                description=text,
                priority=Priority.HIGH if security else None,
                severity=Severity.CRITICAL if security else None,
                playbook_name="Security response" if security else "",
                items=SECURITY_PLAYBOOK if security else [],
                complete_before=Status.FIXED if security else "",
                complete_min_severity=Severity.CRITICAL if security else None,
            ),
        )
    return current_version(project, IssueType.SECURITY)


SECURITY_DEMO_ISSUE = {
    "title": "API key committed to a public repository",
    "description": SECTIONS[IssueType.SECURITY].replace(
        "## Affected systems\n", "## Affected systems\n\nPayments gateway sandbox key.\n"
    ),
    "type": IssueType.SECURITY,
    "priority": Priority.HIGH,
    "severity": Severity.CRITICAL,
}


def tick_demo_items(issue, *, developer, count: int = 2) -> None:
    """After seed_demo assigned it (the workflow is a higher layer): tick the first items."""
    for item in issue.checklist.items.order_by("position")[:count]:
        tick_item(issue, item.pk, actor=developer, done=True)
