"""Writes to a project's shape: its components and versions. Managers only (checked here,
so the pages, the API and seeding share one rule)."""

from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor

from .models import Component, Membership, Project, Team, Version
from .selectors import is_manager

NAME_MAX = {"component": 80, "version": 60}
DESCRIPTION_MAX = 2000


class ProjectShapeError(Exception):
    """A refused change to components or versions; `str(error)` is shown to the user."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _require_manager(actor: Actor, project: Project) -> None:
    if actor is not None and not is_manager(actor, project):
        raise ProjectShapeError(f"Only Managers of {project.key} may change this.")


def _clean_name(name: str, *, kind: str) -> str:
    name = name.strip()
    if not name:
        raise ProjectShapeError(f"Give the {kind} a name.", field="name")
    if "\x00" in name:
        raise ProjectShapeError("The name cannot contain NUL characters.", field="name")
    limit = NAME_MAX[kind]
    if len(name) > limit:
        raise ProjectShapeError(
            f"The name is {len(name)} characters long; at most {limit} are allowed.", field="name"
        )
    return name


def _check_description(description: str) -> None:
    if len(description) > DESCRIPTION_MAX:
        raise ProjectShapeError(
            f"The description is at most {DESCRIPTION_MAX} characters.", field="description"
        )
    if "\x00" in description:
        raise ProjectShapeError(
            "The description cannot contain NUL characters.", field="description"
        )


def _check_lead(project: Project, lead: Actor | None) -> None:
    if lead is not None and not Membership.objects.filter(project=project, user=lead).exists():
        raise ProjectShapeError(f"The lead must be a member of {project.key}.", field="lead")


def _save_unique(
    row: Component | Version, *, kind: str, update_fields: list[str] | None = None
) -> None:
    try:
        with transaction.atomic():
            row.save(update_fields=update_fields)
    except IntegrityError:
        raise ProjectShapeError(
            f"{row.project.key} already has a {kind} called “{row.name}”.", field="name"
        ) from None


def create_component(
    project: Project,
    *,
    actor: Actor,
    name: str,
    description: str = "",
    lead: Actor | None = None,
    default_team: Team | None = None,
) -> Component:
    """Add a component (name unique in the project; the lead a member of it)."""
    _require_manager(actor, project)
    name = _clean_name(name, kind="component")
    _check_description(description)
    _check_lead(project, lead)
    component = Component(
        project=project, name=name, description=description, lead=lead, default_team=default_team
    )
    _save_unique(component, kind="component")
    return component


def update_component(
    component: Component,
    *,
    actor: Actor,
    name: str,
    description: str,
    lead: Actor | None,
    default_team: Team | None,
    archived: bool,
) -> Component:
    """Edit a component; archiving hides it from new choices (issues keep it)."""
    project = component.project
    _require_manager(actor, project)
    component.name = _clean_name(name, kind="component")
    _check_description(description)
    _check_lead(project, lead)
    component.description = description
    component.lead = lead
    component.default_team = default_team
    if archived and component.archived_at is None:
        component.archived_at = timezone.now()
    elif not archived:
        component.archived_at = None
    _save_unique(component, kind="component")
    return component


def create_version(
    project: Project,
    *,
    actor: Actor,
    name: str,
    due_date: date | None = None,
    released: bool = False,
) -> Version:
    _require_manager(actor, project)
    version = Version(
        project=project,
        name=_clean_name(name, kind="version"),
        due_date=due_date,
        released=released,
    )
    _save_unique(version, kind="version")
    return version


def update_version(
    version: Version, *, actor: Actor, name: str, due_date: date | None, released: bool
) -> Version:
    _require_manager(actor, version.project)
    version.name = _clean_name(name, kind="version")
    version.due_date = due_date
    version.released = released
    _save_unique(version, kind="version")
    return version


def version_for_release(project: Project, name: str) -> Version | None:
    """The project's version called `name` (trimmed), created unreleased when new: what a
    monitoring tool's release tag files an issue against (intake). None for an empty name."""
    name = name.strip()[: NAME_MAX["version"]]
    if not name:
        return None
    version, _ = Version.objects.get_or_create(project=project, name=name)
    return version
