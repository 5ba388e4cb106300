"""A version's page: its open/closed counts, SLA compliance and what is still open before
its due date (figures from reports.shape, the dashboard's rules)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from projects.selectors import get_version_for_user, is_manager

from .shape import version_figures


@login_required
def version_detail(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    version = get_version_for_user(request.user, key, pk)
    figures = version_figures(request.user, version)
    return render(
        request,
        "reports/version.html",
        {
            "version": version,
            "project": version.project,
            "figures": figures,
            "is_manager": is_manager(request.user, version.project),
        },
    )
