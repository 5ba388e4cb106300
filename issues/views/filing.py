"""Filing an issue: the new-issue form with its project, template and custom fields, and the
similar-issue suggestions beside it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect, render

from customfields.forms import (
    add_custom_fields,
    check_custom_fields,
    custom_bound_fields,
    custom_values,
)
from customfields.selectors import (
    fields_of,
)
from playbooks.models import TemplateVersion
from playbooks.selectors import (
    current_version,
    fields_shown_by,
    template_values,
    version_for_form,
)
from projects.selectors import get_project_for_user, projects_visible_to
from workflows.issue_fields import file_issue_with_fields

from ..forms import (
    IssueCreateForm,
)
from ..inputs import parse_id
from ..models import IssueType
from ..selectors import (
    similar_issues,
)
from ..services import (
    IssueError,
)
from .common import _refused_status


def _render_new(
    request: HttpRequest, form: IssueCreateForm, project=None, status: int = 200, version=None
):
    similar = []
    chosen = getattr(form, "cleaned_data", {}).get("project")
    if chosen is not None:
        similar = similar_issues(request.user, chosen, form.data.get("title", ""))
    context = {
        "form": form,
        "project": project,
        "similar": similar,
        "custom_fields": custom_bound_fields(form),
        "template_version": version,
    }
    # The type or project select switched the template: only the fields, for htmx to swap.
    if request.headers.get("HX-Request") and "apply_template" in request.POST:
        return render(request, "issues/_new_fields.html", context, status=status)
    return render(request, "issues/new.html", context, status=status)


def _preselected_project(request: HttpRequest):
    """The project the form starts with: `?project=KEY` (the top bar's button on a project's
    pages; an id works too), else the user's only project; None when there is a choice."""
    projects = projects_visible_to(request.user).active()
    wanted = request.GET.get("project", "").strip().upper()
    if wanted:
        wanted_id = parse_id(wanted)
        match = projects.filter(pk=wanted_id) if wanted_id is not None else None
        chosen = (match or projects.filter(key=wanted)).first()
        if chosen is not None:
            return chosen
    only = list(projects.only("pk", "key", "name")[:2])
    return only[0] if len(only) == 1 else None


def _issue_type(value: str | None) -> str:
    return value if value in IssueType.values else IssueType.BUG


def _with_custom_fields(request: HttpRequest, form: IssueCreateForm, initial_project, version=None):
    """The custom fields of the chosen project and type that its template shows: the posted
    ones (a re-render after POST), else `?project=` / `?type=` (the form re-rendered when they
    change), else the form's initial project."""
    if request.method == "POST":
        project_id = parse_id(request.POST.get("project", ""))
        project = (
            projects_visible_to(request.user).active().filter(pk=project_id).first()
            if project_id is not None
            else None
        )
        issue_type = _issue_type(request.POST.get("type"))
        if version is None and "apply_template" not in request.POST:
            posted = parse_id(request.POST.get("template_version", ""))
            version = version_for_form(project, issue_type, posted)
    else:
        project = initial_project
        issue_type = _issue_type(request.GET.get("type"))
    if project is not None:
        add_custom_fields(form, fields_shown_by(version, fields_of(project, issue_type)))
    return form


def _label_ids(project) -> dict[str, int]:
    if project is None:
        return {}
    return {name.lower(): pk for pk, name in project.labels.values_list("pk", "name")}


def _with_template(request: HttpRequest, data: dict, *, previous_id) -> tuple[dict, object]:
    """The form's values with the template of its project and type applied (see
    playbooks.selectors.template_values for what is kept of what the user typed)."""
    project = (
        projects_visible_to(request.user)
        .active()
        .filter(pk=parse_id(str(data.get("project") or "")))
        .first()
    )
    type_ = str(data.get("type") or IssueType.BUG)
    new = current_version(project, type_)
    # The last template applied, maybe of the project the user switched away from.
    previous_pk = parse_id(str(previous_id or ""))
    previous = (
        TemplateVersion.objects.filter(
            pk=previous_pk, template__project__in=projects_visible_to(request.user)
        ).first()
        if previous_pk is not None
        else None
    )
    values = template_values(data, new=new, previous=previous, labels=_label_ids(project))
    return values, new


@login_required
def issue_new(request: HttpRequest, project_key: str | None = None) -> HttpResponse:
    project = get_project_for_user(request.user, project_key) if project_key else None
    initial = {"project": project or _preselected_project(request)}
    if request.GET.get("type") in IssueType.values:
        initial["type"] = request.GET["type"]
    if request.method != "POST":
        start = {
            "project": getattr(initial["project"], "pk", None),
            "type": initial.get("type", IssueType.BUG),
        }
        values, version = _with_template(request, start, previous_id=None)
        initial.update({k: v for k, v in values.items() if k != "project"})
        form = IssueCreateForm(user=request.user, initial=initial)
        form = _with_custom_fields(request, form, initial["project"], version)
        return _render_new(request, form, project, version=version)
    if "apply_template" in request.POST:
        # Re-render with the template of the chosen project and type; nothing is saved.
        data = {k: request.POST.get(k, "") for k in request.POST if k != "labels"}
        data["labels"] = request.POST.getlist("labels")
        values, version = _with_template(request, data, previous_id=data.get("template_version"))
        form = IssueCreateForm(user=request.user, initial=values)
        form = _with_custom_fields(request, form, initial["project"], version)
        return _render_new(request, form, project, version=version)
    form = IssueCreateForm(request.POST, request.FILES, user=request.user, initial=initial)
    _with_custom_fields(request, form, initial["project"])
    if form.is_valid():
        check_custom_fields(form)
    if form.errors:
        return _render_new(request, form, project, status=_refused_status(request))
    data = form.cleaned_data
    version = version_for_form(data["project"], data["type"], data.get("template_version"))
    try:
        issue = file_issue_with_fields(
            data["project"],
            template_version=version,
            reporter=request.user,
            custom_values=custom_values(form),
            title=data["title"],
            description=data["description"],
            type=data["type"],
            priority=data["priority"],
            severity=data["severity"],
            owner=data["owner"],
            team=data["team"],
            environment=data["environment"],
            component=data["component"],
            affected_version=data["affected_version"],
            fix_version=data["fix_version"],
            labels=data["labels"],
            attachments=[data["attachment"]] if data.get("attachment") else [],
        )
    except IssueError as error:
        form.add_error(error.field if error.field in form.fields else None, str(error))
        return _render_new(request, form, project, status=400)
    messages.success(request, f"Filed {issue.key}.")
    return redirect(issue)


@login_required
def issue_similar(request: HttpRequest) -> HttpResponse:
    """Likely duplicates for the new-issue form (htmx partial)."""
    project_id = parse_id(request.GET.get("project", ""))
    project = (
        projects_visible_to(request.user).filter(pk=project_id).first()
        if project_id is not None
        else None
    )
    text = f"{request.GET.get('title', '')} {request.GET.get('description', '')}"
    similar = similar_issues(request.user, project, text) if project else []
    return render(request, "issues/_similar.html", {"similar": similar})
