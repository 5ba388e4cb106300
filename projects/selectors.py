"""Who may see which project: the one access rule every view, export and email uses."""

from django.db.models import QuerySet
from django.http import Http404

from .models import Membership, Project, Role


def projects_visible_to(user) -> QuerySet[Project]:
    """Projects the user belongs to; staff and superusers see every project."""
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_staff or user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def projects_for_request(request) -> list[Project]:
    """`projects_visible_to(request.user)`, archived ones included, loaded once per request (key
    and name only): the issue list needs them three times (project choices, people choices and
    the issues themselves, as a list of ids)."""
    cache = request.__dict__
    if "_resolve_visible_projects" not in cache:
        cache["_resolve_visible_projects"] = list(
            projects_visible_to(request.user).only("pk", "key", "name", "archived_at")
        )
    return cache["_resolve_visible_projects"]


def get_project_for_user(user, key: str) -> Project:
    """The project with this key if the user may see it; 404 otherwise (never 403: no leaks)."""
    try:
        return projects_visible_to(user).get(key=key.upper())
    except Project.DoesNotExist:
        raise Http404("No such project.") from None


def role_in_project(user, project: Project) -> str | None:
    """The user's role in the project (None when not a member)."""
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )


def role_for_request(request, project: Project) -> str | None:
    """`role_in_project` of the request's user, looked up once per request and project (the
    issue page's panels all ask)."""
    cache = request.__dict__.setdefault("_resolve_project_roles", {})
    if project.pk not in cache:
        cache[project.pk] = role_in_project(request.user, project)
    return cache[project.pk]


def is_manager(user, project: Project) -> bool:
    return user.is_superuser or role_in_project(user, project) == Role.MANAGER


# Who may own an issue: the one rule the issue form, bulk edit, the API, the workflow's Assign
# and intake's auto-assignment read. The lifecycle's owners do the work (Start work, Send to
# retest), so they are the project's Developers; Managers assign, Testers verify, Reporters file.
OWNER_ROLES: tuple[str, ...] = (Role.DEVELOPER,)
OWNER_ROLES_TEXT = "a Developer"


def eligible_owners(project: Project) -> QuerySet:
    """Active users who may own issues of `project`, by username."""
    return owner_candidates([project])


def owner_candidates(projects) -> QuerySet:
    """Active users who may own issues of at least one of `projects` (a list or a queryset);
    whether they fit a given issue is `may_own` with its project."""
    from django.contrib.auth import get_user_model

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


def may_own(user, project: Project) -> bool:
    """Whether `user` may own issues of `project` (see OWNER_ROLES)."""
    if user is None or not getattr(user, "is_active", False):
        return False
    return Membership.objects.filter(project=project, user=user, role__in=OWNER_ROLES).exists()


def owner_refusal(project: Project) -> str:
    """The message shown when someone who may not own is chosen as owner."""
    return f"The owner must be {OWNER_ROLES_TEXT} of the project ({project.key})."


def members_with_role(project: Project, *roles: str) -> QuerySet:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(memberships__project=project)
    if roles:
        users = users.filter(memberships__role__in=roles)
    return users.distinct()
