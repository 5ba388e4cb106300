"""Filing and editing an issue together with its custom fields, all or nothing: the values
are checked first (`customfields.services.clean_values`, for the project and the issue's
type), then the issue's own use case runs (`issue_use_cases.create_issue` / `update_issue`),
then the values are written, in one transaction."""

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from accounts.actors import Actor
from customfields.selectors import fields_of, values_of
from customfields.services import bump_version, clean_values, held_options, write_values
from issues.models import Issue, IssueType
from playbooks.models import TemplateVersion
from playbooks.services import record_filed_with
from projects.models import Project

from .issue_use_cases import create_issue, update_issue


def file_issue_with_fields(
    project: Project,
    *,
    reporter: Actor,
    custom_values: Mapping[str, Any],
    template_version: TemplateVersion | None = None,
    **fields: Any,
) -> Issue:
    """File an issue with its custom values in one transaction: the values are checked
    first (for the project and the issue's type), then `create_issue`, then the values, and
    the issue template version the form applied (its playbook is what Assign copies)."""
    issue_type = fields.get("type", IssueType.BUG)
    cleaned = clean_values(fields_of(project, issue_type), custom_values, project=project)
    with transaction.atomic():
        issue = create_issue(project, reporter=reporter, **fields)
        write_values(issue, cleaned, actor=reporter, record=False)
        if template_version is not None:
            record_filed_with(issue, template_version)
    return issue


def update_issue_with_fields(
    issue: Issue,
    *,
    actor: Actor,
    changes: dict[str, Any],
    custom_values: Mapping[str, Any],
    expected_version: int | None = None,
    reason: str = "",
) -> list[str]:
    """Edit built-in and custom fields together, all or nothing: `update_issue` (which locks
    the row and refuses a stale version), then the custom values of the issue's (new) type.
    Returns the changed names (custom ones as `cf:<slug>`)."""
    issue_type = changes.get("type", issue.type)
    cleaned = clean_values(
        fields_of(issue.project, issue_type),
        custom_values,
        status=issue.status,
        held=held_options(values_of(issue)),
    )
    with transaction.atomic():
        changed = update_issue(
            issue,
            actor=actor,
            changes=changes,
            expected_version=expected_version,
            reason=reason,
        )
        custom = write_values(issue, cleaned, actor=actor)
        if custom and not changed:
            bump_version(issue)
    return [*changed, *(f"cf:{slug}" for slug in custom)]
