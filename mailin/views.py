"""The project's mail page (addresses, who may file, quarantine) for its managers."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from projects.selectors import get_project_for_user, is_manager

from . import services
from .forms import AcceptFromForm, AddressForm
from .models import MailAddress, MailMessage, MailStatus
from .selectors import quarantine_of, recent_mail_of


def _managed_project(request: HttpRequest, key: str):
    project = get_project_for_user(request.user, key)
    if not is_manager(request.user, project):
        raise PermissionDenied("Only the project's managers can see and change its mail.")
    return project


def _page(request: HttpRequest, project, *, address_form=None, status=200) -> HttpResponse:
    cfg = services.mail_settings_of(project)
    quarantine = Paginator(quarantine_of(project), 25).get_page(request.GET.get("page"))
    context = {
        "project": project,
        "addresses": list(project.mail_addresses.all()),
        "address_form": address_form or AddressForm(),
        "accept_form": AcceptFromForm(initial={"accept_from": cfg.accept_from}),
        "quarantine": quarantine,
        "recent": list(recent_mail_of(project)[:10]),
    }
    return render(request, "mailin/settings.html", context, status=status)


@login_required
def mail_settings(request: HttpRequest, key: str) -> HttpResponse:
    project = _managed_project(request, key)
    if request.method != "POST":
        return _page(request, project)
    form = AddressForm(request.POST)
    if form.is_valid():
        try:
            services.add_mail_address(project, actor=request.user, **form.cleaned_data)
        except services.MailInError as exc:
            form.add_error(exc.field, str(exc))
        else:
            messages.success(request, f"Mail to {form.cleaned_data['address']} now files issues.")
            return redirect("mail_settings", key=project.key)
    return _page(request, project, address_form=form, status=400)


@login_required
@require_POST
def address_remove(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    project = _managed_project(request, key)
    row = get_object_or_404(MailAddress, project=project, pk=pk)
    services.remove_mail_address(row, actor=request.user)
    messages.success(request, f"{row.address} no longer files issues.")
    return redirect("mail_settings", key=project.key)


@login_required
@require_POST
def accept_from(request: HttpRequest, key: str) -> HttpResponse:
    project = _managed_project(request, key)
    form = AcceptFromForm(request.POST)
    if form.is_valid():
        services.set_accept_from(
            project, actor=request.user, accept_from=form.cleaned_data["accept_from"]
        )
        messages.success(request, "Saved who may file by e-mail.")
    else:
        messages.error(request, "Choose who may file by e-mail.")
    return redirect("mail_settings", key=project.key)


@login_required
@require_POST
def quarantine_action(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    project = _managed_project(request, key)
    row = get_object_or_404(MailMessage.objects.defer("raw"), project=project, pk=pk)
    action = request.POST.get("action")
    try:
        if action == "release":
            row = services.release_message(row, actor=request.user)
            messages.success(request, f"Filed as {row.issue.key}.")  # type: ignore[union-attr]
        elif action == "discard":
            services.discard_message(row, actor=request.user)
            messages.success(request, "Message discarded.")
        else:
            messages.error(request, "Choose to file or to discard the message.")
    except services.MailInError as exc:
        messages.error(request, str(exc))
    return redirect("mail_settings", key=project.key)


@login_required
def raw_message(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    """The message as received, always as a download (never rendered)."""
    project = _managed_project(request, key)
    row = get_object_or_404(MailMessage, project=project, pk=pk)
    if row.status == MailStatus.DISCARDED:
        raise PermissionDenied("The message was discarded.")
    response = HttpResponse(bytes(row.raw), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="message-{row.pk}.eml"'
    return response
