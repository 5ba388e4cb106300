from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .selectors import get_project_for_user, people_matching, projects_visible_to


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = (
        projects_visible_to(request.user)
        .active()
        .select_related("lead")
        .annotate(
            open_issues=Count("issues", filter=~Q(issues__status="closed")),
            member_count=Count("memberships", distinct=True),
        )
    )
    return render(request, "projects/list.html", {"projects": projects})


@login_required
def project_detail(request: HttpRequest, key: str) -> HttpResponse:
    project = get_project_for_user(request.user, key)
    memberships = project.memberships.select_related("user").order_by("role", "user__username")
    return render(request, "projects/detail.html", {"project": project, "memberships": memberships})


@login_required
def people_search(request: HttpRequest) -> JsonResponse:
    """Members of the user's projects matching `q` (at most 20), for the people pickers:
    `[{"value": username, "text": "username · Name"}]`. Only people who share a project with
    the user; nothing about anyone else."""
    people = people_matching(request, request.GET.get("q", ""))
    return JsonResponse(
        [
            {"value": username, "text": f"{username} · {name}" if name else username}
            for username, name in people
        ],
        safe=False,
    )
