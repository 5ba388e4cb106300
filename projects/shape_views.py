"""The project's settings pages for its shape: components and versions. Any member reads
them; only Managers change them (403), and a project one cannot see is 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .forms import ComponentEditForm, ComponentForm, VersionForm
from .models import Project
from .selectors import (
    get_component_for_user,
    get_project_for_user,
    get_version_for_user,
    is_manager,
)
from .services import (
    ProjectShapeError,
    create_component,
    create_version,
    update_component,
    update_version,
)


def _require_manager(request: HttpRequest, project: Project) -> None:
    if not is_manager(request.user, project):
        raise PermissionDenied(
            f"Only Managers of {project.key} change its components and versions."
        )


def _refused(form, error: ProjectShapeError) -> None:
    form.add_error(error.field if error.field in form.fields else None, str(error))


@login_required
def component_list(request: HttpRequest, key: str) -> HttpResponse:
    project = get_project_for_user(request.user, key)
    manager = is_manager(request.user, project)
    form = ComponentForm(request.POST or None, project=project)
    status = 200
    if request.method == "POST":
        _require_manager(request, project)
        if form.is_valid():
            try:
                component = create_component(project, actor=request.user, **form.cleaned_data)
            except ProjectShapeError as error:
                _refused(form, error)
            else:
                messages.success(request, f"Component “{component.name}” added.")
                return redirect("project_components", key=project.key)
        status = 400
    components = project.components.select_related("lead", "default_team")
    return render(
        request,
        "projects/components.html",
        {"project": project, "components": components, "form": form, "is_manager": manager},
        status=status,
    )


@login_required
def component_edit(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    component = get_component_for_user(request.user, key, pk)
    project = component.project
    _require_manager(request, project)
    if request.method != "POST":
        form = ComponentEditForm(initial=ComponentEditForm.initial_from(component), project=project)
        return render(
            request, "projects/component_edit.html", {"component": component, "form": form}
        )
    form = ComponentEditForm(request.POST, project=project)
    if form.is_valid():
        try:
            update_component(component, actor=request.user, **form.cleaned_data)
        except ProjectShapeError as error:
            _refused(form, error)
        else:
            messages.success(request, f"Component “{component.name}” saved.")
            return redirect("project_components", key=project.key)
    component.refresh_from_db()
    return render(
        request,
        "projects/component_edit.html",
        {"component": component, "form": form},
        status=400,
    )


@login_required
@require_POST
def component_archive(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    """Archive (or restore, `archived=0`) a component: the list's one-click action."""
    component = get_component_for_user(request.user, key, pk)
    _require_manager(request, component.project)
    archived = request.POST.get("archived", "1") != "0"
    update_component(
        component,
        actor=request.user,
        name=component.name,
        description=component.description,
        lead=component.lead,
        default_team=component.default_team,
        archived=archived,
    )
    verb = "archived" if archived else "restored"
    messages.success(request, f"Component “{component.name}” {verb}.")
    return redirect("project_components", key=component.project.key)


@login_required
def version_list(request: HttpRequest, key: str) -> HttpResponse:
    project = get_project_for_user(request.user, key)
    manager = is_manager(request.user, project)
    form = VersionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        _require_manager(request, project)
        if form.is_valid():
            try:
                version = create_version(project, actor=request.user, **form.cleaned_data)
            except ProjectShapeError as error:
                _refused(form, error)
            else:
                messages.success(request, f"Version “{version.name}” added.")
                return redirect("project_versions", key=project.key)
        status = 400
    versions = project.versions.all()
    return render(
        request,
        "projects/versions.html",
        {"project": project, "versions": versions, "form": form, "is_manager": manager},
        status=status,
    )


@login_required
def version_edit(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    version = get_version_for_user(request.user, key, pk)
    project = version.project
    _require_manager(request, project)
    form = VersionForm(request.POST or None, initial=VersionForm.initial_from(version))
    if request.method == "POST":
        if form.is_valid():
            try:
                update_version(version, actor=request.user, **form.cleaned_data)
            except ProjectShapeError as error:
                _refused(form, error)
            else:
                messages.success(request, f"Version “{version.name}” saved.")
                return redirect("project_versions", key=project.key)
        version.refresh_from_db()
        return render(
            request, "projects/version_edit.html", {"version": version, "form": form}, status=400
        )
    return render(request, "projects/version_edit.html", {"version": version, "form": form})
