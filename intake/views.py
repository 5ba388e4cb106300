from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from projects.selectors import get_project_for_user, is_manager, projects_for_request
from workflows.models import AssignmentRule, Availability
from workflows.selectors import times_left

from . import sdk, services
from .forms import (
    AvailabilityForm,
    DataProtectionForm,
    DsnForm,
    IntakeSettingsForm,
    RuleForm,
    TokenForm,
)
from .models import DsnKey, IntakeToken
from .selectors import (
    daily_counts,
    groups_of_project,
    score_reasons,
    triage_page,
    triage_queue,
)


def _managed_project(request: HttpRequest, key: str):
    project = get_project_for_user(request.user, key)
    if not is_manager(request.user, project):
        raise PermissionDenied("Only the project's managers can change intake.")
    return project


def _intake_context(request, project, **extra) -> dict:
    manager = is_manager(request.user, project)
    cfg = services.get_intake_settings(project)
    context = {
        "project": project,
        "is_manager": manager,
        "settings_row": cfg,
        "tokens": project.intake_tokens.select_related("created_by", "revoked_by")
        if manager
        else [],
        "groups": groups_of_project(project)[:50],
        "token_form": TokenForm(),
        "settings_form": IntakeSettingsForm(initial=IntakeSettingsForm.initial_from(cfg)),
        "endpoint": request.build_absolute_uri(f"/api/v1/projects/{project.key}/events/"),
        "openapi_url": request.build_absolute_uri("/api/v1/openapi.json"),
    }
    context.update(extra)
    return context


@login_required
def intake_page(request: HttpRequest, key: str) -> HttpResponse:
    project = get_project_for_user(request.user, key)
    return render(request, "intake/intake.html", _intake_context(request, project))


@login_required
@require_POST
def token_create(request: HttpRequest, key: str) -> HttpResponse:
    project = _managed_project(request, key)
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            token, raw = services.create_intake_token(
                project, name=form.cleaned_data["name"], actor=request.user
            )
        except services.IntakeError as exc:
            form.add_error("name", str(exc))
        else:
            # Rendered, not redirected: the secret is shown this once and stored nowhere.
            context = _intake_context(request, project, new_token=token, new_secret=raw)
            return render(request, "intake/intake.html", context)
    return render(
        request,
        "intake/intake.html",
        _intake_context(request, project, token_form=form),
        status=400,
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    project = _managed_project(request, key)
    token = get_object_or_404(IntakeToken, project=project, pk=pk)
    try:
        services.revoke_intake_token(token, actor=request.user)
    except services.IntakeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("intake_page", key=project.key)


@login_required
@require_POST
def settings_update(request: HttpRequest, key: str) -> HttpResponse:
    project = _managed_project(request, key)
    form = IntakeSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.update_intake_settings(project, **form.service_kwargs())
        except services.IntakeError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Intake settings saved.")
            return redirect("intake_page", key=project.key)
    return render(
        request,
        "intake/intake.html",
        _intake_context(request, project, settings_form=form),
        status=400,
    )


@login_required
def group_detail(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    project = get_project_for_user(request.user, key)
    group = get_object_or_404(groups_of_project(project), pk=pk)
    occurrences = group.occurrences.all()[:20]
    context = {
        "project": project,
        "group": group,
        "counts": daily_counts(group),
        "occurrences": occurrences,
        "regressions": group.regressions.select_related("old_issue__project", "new_issue__project"),
    }
    return render(request, "intake/group_detail.html", context)


@login_required
def rules_page(request: HttpRequest, key: str) -> HttpResponse:
    project = get_project_for_user(request.user, key)
    manager = is_manager(request.user, project)
    form = RuleForm(request.POST or None, project=project)
    if request.method == "POST":
        if not manager:
            raise PermissionDenied("Only the project's managers can edit assignment rules.")
        if form.is_valid():
            try:
                services.create_assignment_rule(project, **form.cleaned_data)
            except services.IntakeError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Assignment rule added.")
                return redirect("intake_rules", key=project.key)
    rules = AssignmentRule.objects.filter(project=project).select_related(
        "owner", "team", "component"
    )
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "intake/rules.html",
        {"project": project, "rules": rules, "form": form, "is_manager": manager},
        status=status,
    )


@login_required
@require_POST
def rule_delete(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    project = _managed_project(request, key)
    rule = get_object_or_404(AssignmentRule, project=project, pk=pk)
    services.delete_assignment_rule(rule)
    messages.success(request, "Assignment rule removed.")
    return redirect("intake_rules", key=project.key)


@login_required
def triage(request: HttpRequest) -> HttpResponse:
    # The request's projects, loaded once (the project menu reuses them).
    queue = triage_queue(request.user, project_ids=[p.pk for p in projects_for_request(request)])
    page = Paginator(queue.values_list("pk", flat=True), 50).get_page(request.GET.get("page"))
    # The page's rows ranked with their scores (the paginator only counts; its own slice of
    # ids is never read).
    issues = (
        triage_page(queue, page.start_index() - 1, page.end_index()) if page.paginator.count else []
    )
    left = times_left(issues)  # business time left, one query for the page
    rows = [(issue, score_reasons(issue, left=left[issue.pk])) for issue in issues]
    return render(request, "intake/triage.html", {"page": page, "rows": rows})


@login_required
def availability(request: HttpRequest) -> HttpResponse:
    row = Availability.objects.filter(user=request.user).first()
    initial = {"away_until": row.away_until, "note": row.note} if row else {}
    form = AvailabilityForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_availability(request.user, **form.cleaned_data)
        except services.IntakeError as exc:
            form.add_error("away_until", str(exc))
        else:
            messages.success(request, "Your availability was saved.")
            return redirect("intake_availability")
    status = 400 if request.method == "POST" else 200
    return render(request, "intake/availability.html", {"form": form, "row": row}, status=status)


# --- Errors from Sentry SDKs: DSN keys and data protection ------------------------------


def _sdk_context(request: HttpRequest, project, **extra) -> dict:
    cfg = services.get_intake_settings(project)
    base = request.build_absolute_uri("/").rstrip("/")
    scheme, host = base.split("://", 1)
    keys = list(project.dsn_keys.select_related("created_by", "revoked_by"))
    context = {
        "project": project,
        "is_manager": is_manager(request.user, project),
        "keys": keys,
        "dsns": {k.pk: f"{scheme}://{k.public_key}@{host}/{project.pk}" for k in keys},
        "example_dsn": next(
            (f"{scheme}://{k.public_key}@{host}/{project.pk}" for k in keys if k.is_active),
            f"{scheme}://<key>@{host}/{project.pk}",
        ),
        "example_key": next((k.public_key for k in keys if k.is_active), "<key>"),
        "envelope_url": f"{base}/api/{project.pk}/envelope/",
        "dsn_form": DsnForm(),
        "protection_form": DataProtectionForm(initial=DataProtectionForm.initial_from(cfg)),
    }
    context.update(extra)
    return context


@login_required
def sdk_page(request: HttpRequest, key: str) -> HttpResponse:
    project = _managed_project(request, key)
    return render(request, "intake/sdk.html", _sdk_context(request, project))


@login_required
@require_POST
def dsn_create(request: HttpRequest, key: str) -> HttpResponse:
    project = _managed_project(request, key)
    form = DsnForm(request.POST)
    if form.is_valid():
        try:
            dsn = sdk.create_dsn_key(project, name=form.cleaned_data["name"], actor=request.user)
        except services.IntakeError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"DSN “{dsn.name}” created: paste it into your SDK's init.")
            return redirect("intake_sdk", key=project.key)
    context = _sdk_context(request, project, dsn_form=form)
    return render(request, "intake/sdk.html", context, status=400)


@login_required
@require_POST
def dsn_revoke(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    project = _managed_project(request, key)
    dsn = get_object_or_404(DsnKey, project=project, pk=pk)
    try:
        sdk.revoke_dsn_key(dsn, actor=request.user)
    except services.IntakeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"DSN “{dsn.name}” revoked: SDKs using it are refused.")
    return redirect("intake_sdk", key=project.key)


@login_required
@require_POST
def sdk_protection(request: HttpRequest, key: str) -> HttpResponse:
    project = _managed_project(request, key)
    form = DataProtectionForm(request.POST)
    if form.is_valid():
        sdk.update_sdk_settings(project, **form.cleaned_data)
        messages.success(request, "Data protection settings saved.")
        return redirect("intake_sdk", key=project.key)
    context = _sdk_context(request, project, protection_form=form)
    return render(request, "intake/sdk.html", context, status=400)
