from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .selectors import get_project_for_user, projects_visible_to


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
