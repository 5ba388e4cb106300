"""Who may see which project: the one access rule every view, export and email uses."""

import re
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import Http404, HttpRequest

from accounts.actors import Actor, Viewer
from accounts.compiled import CompiledRead

from .models import Component, Membership, Project, Role, Version

_ID_RE = re.compile(r"[0-9]{1,19}", re.ASCII)


def sees_every_project(user: Any) -> bool:
    """Staff and superusers see every project; everyone else the projects they belong to."""
    return bool(user.is_staff or user.is_superuser)


def projects_visible_to(user: Any) -> QuerySet[Project]:
    """Projects the user belongs to; staff and superusers see every project."""
    if not user.is_authenticated:
        return Project.objects.none()
    if sees_every_project(user):
        return Project.objects.all()
    return member_projects(user.pk)


def member_projects(user_id: int) -> QuerySet[Project]:
    """The projects a user belongs to (`projects_visible_to` of anyone but staff)."""
    return Project.objects.filter(memberships__user_id=user_id)


def visible_pairs(
    pairs: Iterable[tuple[int, int]], *, users: Iterable[Any] | None = None
) -> set[tuple[int, int]]:
    """`projects_visible_to` in bulk, for mail and alerts: the (user id, project id) pairs where
    the user is active (the only people who can sign in to see a page) and the project is one
    `projects_visible_to` gives them. Two queries whatever the number of pairs; `users`: the
    user objects of the pairs when the caller already loaded them (saves one)."""
    pairs = set(pairs)
    if not pairs:
        return set()
    user_ids = {u for u, _ in pairs}
    project_ids = {p for _, p in pairs}
    people = (
        [u for u in users if u.pk in user_ids]
        if users is not None
        else get_user_model()
        .objects.filter(id__in=user_ids)
        .only("is_active", "is_staff", "is_superuser")
    )
    active = {u.pk for u in people if u.is_active}
    see_all = {u.pk for u in people if u.is_active and sees_every_project(u)}
    members = set(
        Membership.objects.filter(user_id__in=user_ids, project_id__in=project_ids).values_list(
            "user_id", "project_id"
        )
    )
    return {(u, p) for u, p in pairs if u in see_all or (u in active and (u, p) in members)}


def projects_for_request(request: HttpRequest) -> list[Project]:
    """`projects_visible_to(request.user)`, archived ones included, loaded once per request (key
    and name only): the issue list needs them three times (project choices, people choices and
    the issues themselves, as a list of ids)."""
    cache = request.__dict__
    if "_resolve_visible_projects" not in cache:
        user = request.user
        if not user.is_authenticated:
            found: list[Project] = []
        elif sees_every_project(user):
            found = _EVERY_PROJECT.rows()
        else:
            found = _MEMBER_PROJECTS.rows(user.pk)
        cache["_resolve_visible_projects"] = found
    return cache["_resolve_visible_projects"]


# The statements of projects_for_request, compiled once (every page runs one of them).
_SHOWN_FIELDS = ("pk", "key", "name", "archived_at")
_EVERY_PROJECT: CompiledRead[Project] = CompiledRead(
    lambda: Project.objects.all().only(*_SHOWN_FIELDS)
)
_MEMBER_PROJECTS: CompiledRead[Project] = CompiledRead(
    lambda pk: member_projects(pk).only(*_SHOWN_FIELDS)
)


def get_project_for_user(user: Viewer, key: str) -> Project:
    """The project with this key if the user may see it; 404 otherwise (never 403: no leaks)."""
    try:
        return projects_visible_to(user).get(key=key.upper())
    except Project.DoesNotExist:
        raise Http404("No such project.") from None


def role_in_project(user: Viewer, project: Project) -> str | None:
    """The user's role in the project (None when not a member)."""
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )


def role_for_request(request: HttpRequest, project: Project) -> str | None:
    """`role_in_project` of the request's user, looked up once per request and project (the
    issue page's panels all ask)."""
    cache = request.__dict__.setdefault("_resolve_project_roles", {})
    if project.pk not in cache:
        cache[project.pk] = role_in_project(request.user, project)
    return cache[project.pk]


def is_manager(user: Viewer, project: Project) -> bool:
    return user.is_superuser or role_in_project(user, project) == Role.MANAGER


# Who may own an issue: the one rule the issue form, bulk edit, the API, the workflow's Assign
# and intake's auto-assignment read. The lifecycle's owners do the work (Start work, Send to
# retest), so they are the project's Developers; Managers assign, Testers verify, Reporters file.
OWNER_ROLES: tuple[str, ...] = (Role.DEVELOPER,)
OWNER_ROLES_TEXT = "a Developer"


def eligible_owners(project: Project) -> QuerySet:
    """Active users who may own issues of `project`, by username."""
    return owner_candidates([project])


def owner_candidates(projects: Iterable[Project]) -> QuerySet:
    """Active users who may own issues of at least one of `projects` (a list or a queryset);
    whether they fit a given issue is `may_own` with its project."""

    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            memberships__project__in=projects,
            memberships__role__in=OWNER_ROLES,
        )
        .distinct()
        .order_by("username")
    )


def may_own(user: Actor | None, project: Project) -> bool:
    """Whether `user` may own issues of `project` (see OWNER_ROLES)."""
    if user is None or not getattr(user, "is_active", False):
        return False
    return Membership.objects.filter(project=project, user=user, role__in=OWNER_ROLES).exists()


def owner_refusal(project: Project) -> str:
    """The message shown when someone who may not own is chosen as owner."""
    return f"The owner must be {OWNER_ROLES_TEXT} of the project ({project.key})."


def members_with_role(project: Project, *roles: str) -> QuerySet:
    users = get_user_model().objects.filter(memberships__project=project)
    if roles:
        users = users.filter(memberships__role__in=roles)
    return users.distinct()


PEOPLE_LIMIT = 20


def _members_of_request_projects(request: HttpRequest) -> QuerySet:
    project_ids = [p.pk for p in projects_for_request(request)]
    members = Membership.objects.filter(project_id__in=project_ids).values("user_id")
    return get_user_model().objects.filter(pk__in=members, is_active=True)


def people_matching(
    request: HttpRequest, text: str, *, limit: int = PEOPLE_LIMIT
) -> list[tuple[str, str]]:
    """(username, display name) of up to `limit` members of the request user's projects whose
    username or name contains `text`, usernames starting with it first: what the people
    pickers ask for while someone types (a page never lists every member)."""

    text = text.strip()[:50]
    people = _members_of_request_projects(request)
    if text:
        people = people.filter(Q(username__icontains=text) | Q(display_name__icontains=text))
    ranked = people.annotate(
        starts=Case(
            When(username__istartswith=text, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    )
    return list(
        ranked.order_by("starts", "username").values_list("username", "display_name")[:limit]
    )


def member_by_handle(request: HttpRequest, handle: str) -> tuple[int, str] | None:
    """(pk, username) of the member of the request user's projects with this username (or,
    as older links have it, this id); None when there is none the user may see."""
    handle = handle.strip()
    match = Q(username=handle)
    # ASCII digits within 64 bits only (superscript digits pass isdigit() and crash int()).
    if _ID_RE.fullmatch(handle) and int(handle) < 2**63:
        match |= Q(pk=int(handle))
    found = _members_of_request_projects(request).filter(match).values_list("pk", "username")
    return next(iter(found[:1]), None)


# --- components and versions -----------------------------------------------------------------


def components_offered(
    projects: Iterable[Project], *, current: Component | None = None
) -> QuerySet[Component]:
    """Components a new choice may pick in `projects` (a list or a queryset): active ones,
    plus `current` (an issue keeps its archived component)."""
    active = Q(project__in=projects, archived_at__isnull=True)
    if current is not None:
        active |= Q(pk=current.pk)
    return Component.objects.filter(active).select_related("project")


def versions_offered(projects: Iterable[Project]) -> QuerySet[Version]:
    return Version.objects.filter(project__in=projects).select_related("project")


def component_refusal(project: Project) -> str:
    return f"Choose a component of {project.key}."


def version_refusal(project: Project) -> str:
    return f"Choose a version of {project.key}."


def get_version_for_user(user: Viewer, key: str, version_id: int) -> Version:
    """A version of a project the user may see; 404 otherwise (as projects)."""
    project = get_project_for_user(user, key)
    try:
        return Version.objects.select_related("project").get(project=project, pk=version_id)
    except Version.DoesNotExist:
        raise Http404("No such version.") from None


def get_component_for_user(user: Viewer, key: str, component_id: int) -> Component:
    project = get_project_for_user(user, key)
    try:
        return Component.objects.select_related("project", "lead", "default_team").get(
            project=project, pk=component_id
        )
    except Component.DoesNotExist:
        raise Http404("No such component.") from None
