from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .selectors import get_issue_for_user, issues_visible_to


@login_required
def issue_list(request: HttpRequest) -> HttpResponse:
    issues = issues_visible_to(request.user).select_related("owner")[:100]
    return render(request, "issues/list.html", {"issues": issues})


@login_required
def issue_detail(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    return render(request, "issues/detail.html", {"issue": issue})
