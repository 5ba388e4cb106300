"""The project's custom-field settings pages (Managers): list with a preview, create, edit
(choices, order, requirement), archive and restore. Thin: each POST calls one service."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from projects.selectors import get_project_for_user, is_manager

from . import selectors, services
from .forms import CustomFieldForm, form_field
from .models import CustomField


def _manager_project(request, key):
    project = get_project_for_user(request.user, key)
    if not is_manager(request.user, project):
        raise PermissionDenied("Only a Manager of the project may change its custom fields.")
    return project


def _field(project, pk: int) -> CustomField:
    found = selectors.get_field_for_manager(project, pk)
    if found is None:
        raise Http404("No such field.")
    return found


def _preview_form(fields: list[CustomField]) -> forms.Form:
    """The fields as the issue form renders them (nothing is submitted)."""
    preview = forms.Form(prefix="preview")
    for f in fields:
        preview.fields[services.form_field_name(f)] = form_field(f, preview=True)
    return preview


@login_required
def field_list(request: HttpRequest, key: str) -> HttpResponse:
    project = _manager_project(request, key)
    fields = list(selectors.all_fields_of(project))
    live = [f for f in fields if f.archived_at is None]
    return render(
        request,
        "customfields/field_list.html",
        {"project": project, "fields": fields, "preview": _preview_form(live)},
    )


def _save(request, project, form: CustomFieldForm, field: CustomField | None):
    data = form.cleaned_data
    common = {
        "name": data["name"],
        "help_text": data["help_text"],
        "required": data["required"],
        "required_from": data["required_from"],
        "issue_types": data["issue_types"],
        "order": data["order"],
        "options": data["options"],
    }
    if field is None:
        return services.create_custom_field(project, slug=data["slug"], kind=data["kind"], **common)
    return services.update_custom_field(field, **common)


def _initial(field: CustomField) -> dict:
    return {
        "name": field.name,
        "slug": field.slug,
        "kind": field.kind,
        "help_text": field.help_text,
        "required": field.required,
        "required_from": field.required_from,
        "issue_types": field.issue_types,
        "order": field.order,
        "options": "\n".join(o.label for o in selectors.live_options(field)),
    }


@login_required
def field_edit(request: HttpRequest, key: str, pk: int | None = None) -> HttpResponse:
    project = _manager_project(request, key)
    field = _field(project, pk) if pk is not None else None
    initial = _initial(field) if field is not None else None
    form = CustomFieldForm(request.POST or None, initial=initial, field=field)
    if request.method == "POST" and form.is_valid():
        try:
            saved = _save(request, project, form, field)
        except services.CustomFieldError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            messages.success(request, f"Saved the field “{saved.name}” ({saved.slug}).")
            return redirect("customfield_list", key=project.key)
    return render(
        request,
        "customfields/field_form.html",
        {
            "project": project,
            "form": form,
            "field": field,
            "preview": _preview_form([field]) if field is not None else None,
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def field_archive(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    project = _manager_project(request, key)
    field = _field(project, pk)
    archived = request.POST.get("action") != "restore"
    services.archive_custom_field(field, archived=archived)
    if archived:
        messages.info(request, f"Archived “{field.name}”: hidden from forms, values kept.")
    else:
        messages.success(request, f"Restored “{field.name}”.")
    return redirect("customfield_list", key=project.key)
