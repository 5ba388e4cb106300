"""Reads that encode who may see which issue. Every view, export, search and email uses these."""

from django.db.models import QuerySet
from django.http import Http404

from projects.selectors import projects_visible_to

from .models import Issue


def issues_visible_to(user) -> QuerySet[Issue]:
    """Issues of the projects the user belongs to (all for staff); archived ones excluded."""
    return Issue.objects.filter(
        project__in=projects_visible_to(user), archived_at__isnull=True
    ).select_related("project")


def parse_issue_key(key: str) -> tuple[str, int] | None:
    project_key, sep, number = key.upper().rpartition("-")
    if not sep or not project_key or not number.isdigit():
        return None
    return project_key, int(number)


def get_issue_for_user(user, key: str) -> Issue:
    """The issue with this key (e.g. WEB-42) if the user may see it; 404 otherwise."""
    parsed = parse_issue_key(key)
    if parsed is None:
        raise Http404("No such issue.")
    project_key, number = parsed
    try:
        return issues_visible_to(user).get(project__key=project_key, number=number)
    except Issue.DoesNotExist:
        raise Http404("No such issue.") from None
