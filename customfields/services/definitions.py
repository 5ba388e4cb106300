"""Custom field definitions (a project's settings pages): create, change, archive, options."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from issues.models import IssueType, Status
from projects.models import Project

from ..models import (
    NAME_MAX_CHARS,
    OPTION_MAX_CHARS,
    SLUG_MAX_CHARS,
    CustomField,
    CustomFieldOption,
    FieldKind,
)
from .values import CustomFieldError

SLUG_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _check_definition(
    project: Project,
    *,
    name: str,
    slug: str,
    kind: str,
    required_from: str,
    issue_types: list[str],
    pk: int | None = None,
) -> None:
    if not name.strip():
        raise CustomFieldError("Give the field a name.", field="name")
    if len(name) > NAME_MAX_CHARS:
        raise CustomFieldError(f"At most {NAME_MAX_CHARS} characters.", field="name")
    if not SLUG_RE.match(slug) or len(slug) > SLUG_MAX_CHARS:
        raise CustomFieldError(
            f"Lower-case letters, digits and _ , starting with a letter (at most "
            f"{SLUG_MAX_CHARS}).",
            field="slug",
        )
    same_slug = CustomField.objects.filter(project=project, slug=slug)
    if pk is not None:
        same_slug = same_slug.exclude(pk=pk)
    if same_slug.exists():
        raise CustomFieldError(f"{project.key} already has a field “{slug}”.", field="slug")
    if kind not in FieldKind.values:
        raise CustomFieldError("Choose a kind.", field="kind")
    if required_from and required_from not in Status.values:
        raise CustomFieldError("Choose a status.", field="required_from")
    if required_from == Status.NEW:
        raise CustomFieldError(
            "Required from New on is simply required: leave the status empty.",
            field="required_from",
        )
    bad = [t for t in issue_types if t not in IssueType.values]
    if bad:
        raise CustomFieldError(f"Unknown issue type “{bad[0]}”.", field="issue_types")


def _parse_options(text: str) -> list[str]:
    labels: list[str] = []
    for line in text.splitlines():
        label = line.strip()
        if not label:
            continue
        if len(label) > OPTION_MAX_CHARS:
            raise CustomFieldError(
                f"A choice has at most {OPTION_MAX_CHARS} characters: “{label[:30]}…”.",
                field="options",
            )
        if label.lower() in (seen.lower() for seen in labels):
            raise CustomFieldError(f"“{label}” is listed twice.", field="options")
        labels.append(label)
    return labels


def _set_options(field_: CustomField, labels: list[str]) -> None:
    """The field's choices become `labels`, in that order: an existing label keeps its id
    (issues keep their value), a new one is added, one no longer listed is archived (issues
    that have it keep it; it is no longer offered)."""
    now = timezone.now()
    existing = {o.label.lower(): o for o in field_.options.all()}
    for order, label in enumerate(labels):
        option = existing.pop(label.lower(), None)
        if option is None:
            CustomFieldOption.objects.create(field=field_, label=label, order=order)
        else:
            option.label, option.order, option.archived_at = label, order, None
            option.save(update_fields=["label", "order", "archived_at"])
    for option in existing.values():
        if option.archived_at is None:
            option.archived_at = now
            option.save(update_fields=["archived_at"])


def create_custom_field(
    project: Project,
    *,
    name: str,
    slug: str,
    kind: str,
    help_text: str = "",
    required: bool = False,
    required_from: str = "",
    issue_types: list[str] | None = None,
    order: int = 0,
    options: str = "",
) -> CustomField:
    """Define a field (a Manager, on the settings page; the demo). Choices: one per line."""
    issue_types = list(issue_types or [])
    _check_definition(
        project,
        name=name,
        slug=slug,
        kind=kind,
        required_from=required_from,
        issue_types=issue_types,
    )
    labels = _parse_options(options)
    if kind in (FieldKind.CHOICE, FieldKind.MULTI_CHOICE) and not labels:
        raise CustomFieldError("List its choices, one per line.", field="options")
    with transaction.atomic():
        field_ = CustomField.objects.create(
            project=project,
            name=name.strip(),
            slug=slug,
            kind=kind,
            help_text=help_text.strip(),
            required=required,
            required_from=required_from if required else "",
            issue_types=issue_types,
            order=order,
        )
        _set_options(field_, labels)
    return field_


def update_custom_field(
    field_: CustomField,
    *,
    name: str,
    help_text: str = "",
    required: bool = False,
    required_from: str = "",
    issue_types: list[str] | None = None,
    order: int = 0,
    options: str = "",
) -> CustomField:
    """Change a field's definition. Its slug and kind stay: the slug is its stable name
    (API, links, templates), and its values were checked against its kind."""
    issue_types = list(issue_types or [])
    _check_definition(
        field_.project,
        name=name,
        slug=field_.slug,
        kind=field_.kind,
        required_from=required_from,
        issue_types=issue_types,
        pk=field_.pk,
    )
    labels = _parse_options(options)
    if field_.is_choice and not labels:
        raise CustomFieldError("List its choices, one per line.", field="options")
    with transaction.atomic():
        field_.name = name.strip()
        field_.help_text = help_text.strip()
        field_.required = required
        field_.required_from = required_from if required else ""
        field_.issue_types = issue_types
        field_.order = order
        field_.save()
        if field_.is_choice:
            _set_options(field_, labels)
    return field_


def archive_custom_field(field_: CustomField, *, archived: bool) -> None:
    """Archive (hide from forms, lists and filters; values kept) or restore a field."""
    field_.archived_at = timezone.now() if archived else None
    field_.save(update_fields=["archived_at"])
