from django.contrib.auth.decorators import login_required
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .models import Project
from .selectors import get_project_for_user, people_matching, projects_visible_to


def _count_of_project(relation: str, condition: Q | None = None) -> Subquery:
    """COUNT of a project's related rows in a subquery of its own: the access filter joins the
    viewer's own membership row, and an aggregate over that join counted 1 member everywhere."""
    counted = (
        Project.objects.filter(pk=OuterRef("pk"))
        .annotate(n=Count(relation, filter=condition, distinct=True))
        .values("n")
    )
    return Subquery(counted, output_field=IntegerField())


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = (
        projects_visible_to(request.user)
        .active()
        .select_related("lead")
        .annotate(
            open_issues=_count_of_project(
                "issues", ~Q(issues__status="closed") & Q(issues__archived_at__isnull=True)
            ),
            member_count=_count_of_project("memberships"),
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
