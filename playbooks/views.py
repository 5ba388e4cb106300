"""Thin views: ticking a playbook item, and the project's template settings pages."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from issues.inputs import parse_id
from issues.markdown import render_markdown
from issues.models import IssueType
from issues.selectors import get_issue_for_user
from projects.selectors import get_project_for_user, is_manager

from .forms import TemplateForm
from .selectors import current_version, templates_of
from .services import PlaybookError, save_template, tick_item
from .templatetags.playbook_tags import checklist_context


@login_required
@require_POST
def tick(request: HttpRequest, key: str, item_id: int) -> HttpResponse:
    """Tick (`done=1`) or untick (`done=0`) an item: the checklist for htmx, else back to the
    issue. An issue the user cannot see is a 404 (the access selector)."""
    issue = get_issue_for_user(request.user, key)
    error = ""
    status = 200
    try:
        tick_item(issue, parse_id(str(item_id)) or 0, actor=request.user, done=_done(request))
    except PlaybookError as e:
        error, status = str(e), e.status_code
    if request.headers.get("HX-Request"):
        context = {**checklist_context(issue, request.user), "error": error}
        return render(request, "playbooks/_checklist.html", context, status=status)
    if error:
        messages.error(request, error)
    return redirect(issue)


def _done(request: HttpRequest) -> bool:
    return request.POST.get("done", "1") not in ("0", "false", "")


def _manager_project(request: HttpRequest, key: str):
    project = get_project_for_user(request.user, key)
    if not is_manager(request.user, project):
        raise PermissionDenied("Only a Manager of the project edits its templates.")
    return project


@login_required
def template_list(request: HttpRequest, key: str) -> HttpResponse:
    project = _manager_project(request, key)
    by_type = {t.type: t for t in templates_of(project)}
    rows = [(value, label, by_type.get(value)) for value, label in IssueType.choices]
    return render(request, "playbooks/templates.html", {"project": project, "rows": rows})


@login_required
def template_edit(request: HttpRequest, key: str, type: str) -> HttpResponse:
    """Edit -> Preview (the rendered description and the checklist, nothing saved) -> Save,
    which makes a new version (issues filed earlier keep theirs)."""
    project = _manager_project(request, key)
    if type not in IssueType.values:
        raise Http404("No such issue type.")
    current = current_version(project, type)
    form = TemplateForm(
        request.POST or None, initial=TemplateForm.initial_of(current), project=project
    )
    preview = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            draft = form.draft()
            if "preview" in request.POST:
                preview = {
                    "html": render_markdown(draft.description),
                    "items": draft.items,
                    "draft": draft,
                }
            else:
                try:
                    version = save_template(project, type, actor=request.user, draft=draft)
                except PlaybookError as e:
                    form.add_error(e.field if e.field in form.fields else None, str(e))
                else:
                    messages.success(
                        request,
                        f"Saved version {version.number} of the {IssueType(type).label} template.",
                    )
                    return redirect("template_edit", key=project.key, type=type)
        status = 400 if form.errors else 200
    return render(
        request,
        "playbooks/template_edit.html",
        {
            "project": project,
            "type": type,
            "type_label": IssueType(type).label,
            "form": form,
            "current": current,
            "preview": preview,
        },
        status=status,
    )
