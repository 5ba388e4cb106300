"""Thin views: the transition buttons' targets, SLA hold, and the project settings pages."""

import hashlib
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from issues.models import Status
from issues.selectors import get_issue_for_user
from projects.selectors import get_project_for_user, is_manager

from . import selectors, services
from .forms import HoldForm, SlaPolicyForm, TransitionForm, TransitionRulesForm
from .ledger import ledger_rows, sla_explanation
from .models import HoldReason, SlaPolicy
from .templatetags.workflow_tags import sla_box_context
from .transitions import TRANSITIONS, find_transition


def _render_transition(request, issue, transition, form, *, error="", status=200):
    return render(
        request,
        "workflows/transition.html",
        {
            "issue": issue,
            "transition": transition,
            "form": form,
            "error": error,
            "to_label": Status(transition.target).label if transition else "",
        },
        status=status,
    )


@login_required
def transition(request: HttpRequest, key: str, to: str) -> HttpResponse:
    """GET: the form of the transition's required fields. POST: take it."""
    issue = get_issue_for_user(request.user, key)
    row = find_transition(issue.status, to)
    if request.method != "POST":
        if row is None:
            error = f"{issue.key} is {issue.get_status_display()}; it cannot move to that status."
            return _render_transition(request, issue, None, None, error=error, status=409)
        if row not in selectors.available_transitions(issue, request.user):
            error = f"You may not take “{row.label}” on {issue.key}."
            return _render_transition(request, issue, row, None, error=error, status=403)
        return _render_transition(request, issue, row, TransitionForm(transition=row, issue=issue))

    data: dict = {}
    expected = issue.status
    form = None
    if row is not None:
        form = TransitionForm(request.POST, transition=row, issue=issue)
        expected = request.POST.get(f"{row.name}-expected_status") or issue.status
        if expected == issue.status and not form.is_valid():
            return _render_transition(request, issue, row, form, status=400)
        data = form.transition_data() if expected == issue.status else {}
    else:
        expected = next(
            (v for k, v in request.POST.items() if k.endswith("expected_status")), issue.status
        )
    try:
        services.transition_issue(issue, to, actor=request.user, expected_status=expected, **data)
    except services.WorkflowError as e:
        if form is not None and e.field and e.field in form.fields:
            form.add_error(e.field, str(e))
            return _render_transition(request, issue, row, form, status=400)
        return _render_transition(request, issue, row, None, error=str(e), status=e.status_code)
    messages.success(request, f"{issue.key} is now {issue.get_status_display()}.")
    return redirect(issue)


@login_required
@require_POST
def hold(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    form = HoldForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose why the clock is on hold.")
        return redirect(issue)
    try:
        services.hold_sla_clock(
            issue,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
        )
    except services.TransitionForbidden as e:
        raise PermissionDenied(str(e)) from e
    except services.WorkflowError as e:
        messages.error(request, str(e))
        return redirect(issue)
    messages.success(
        request, f"{issue.key}: clock on hold ({HoldReason(form.cleaned_data['reason']).label})."
    )
    return redirect(issue)


@login_required
@require_POST
def release(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    try:
        services.release_sla_hold(issue, actor=request.user)
    except services.TransitionForbidden as e:
        raise PermissionDenied(str(e)) from e
    except services.WorkflowError as e:
        messages.error(request, str(e))
        return redirect(issue)
    messages.success(request, f"{issue.key}: clock running again.")
    return redirect(issue)


@login_required
def sla_box(request: HttpRequest, key: str) -> HttpResponse:
    """The SLA box alone: the live countdown refreshes it."""
    issue = get_issue_for_user(request.user, key)
    return render(request, "workflows/_sla_box_inner.html", _sla_box_context(request, issue))


@login_required
def sla_ledger(request: HttpRequest, key: str) -> HttpResponse:
    """Every clock event behind the SLA box, per cycle (whoever may see the issue)."""
    issue = get_issue_for_user(request.user, key)
    return render(
        request,
        "workflows/sla_ledger.html",
        {"issue": issue, "cycles": ledger_rows(issue), "explanation": sla_explanation(issue)},
    )


def _sla_box_context(request, issue) -> dict:
    return sla_box_context(request, issue)


def _fingerprint(draft: SlaPolicy) -> str:
    """What the preview showed: Apply must send the same values back."""
    fields = (
        "resolution_target_seconds",
        "response_target_seconds",
        "warnings",
        "time_zone",
        "working_hours",
        "holidays",
        "holiday_country",
        "business_severities",
        "paused_statuses",
    )
    payload = json.dumps({f: getattr(draft, f) for f in fields}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _manager_project(request, key):
    project = get_project_for_user(request.user, key)
    if not is_manager(request.user, project):
        raise PermissionDenied("Only a Manager of the project may change its workflow.")
    return project


@login_required
def workflow_settings(request: HttpRequest, key: str) -> HttpResponse:
    project = _manager_project(request, key)
    current = selectors.transition_overrides(project)
    form = TransitionRulesForm(request.POST or None, transitions=TRANSITIONS, current=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_transition_overrides(
                project, actor=request.user, actors=dict(form.cleaned_data)
            )
        except services.WorkflowError as e:
            form.add_error(e.field if e.field in form.fields else None, str(e))
        else:
            messages.success(request, f"Workflow roles of {project.key} saved.")
            return redirect("workflow_settings", key=project.key)
    return render(
        request,
        "workflows/workflow_settings.html",
        {"project": project, "form": form, "overridden": set(current), "hold_reasons": HoldReason},
        status=400 if form.errors else 200,
    )


@login_required
def sla_settings(request: HttpRequest, key: str) -> HttpResponse:
    """Edit -> preview (which open issues' deadlines move, by how much) -> apply."""
    project = _manager_project(request, key)
    policy = selectors.policy_of(project)
    form = SlaPolicyForm(request.POST or None, policy=policy)
    preview = None
    fingerprint = ""
    if request.method == "POST":
        if form.is_valid():
            draft = form.draft(project)
            fingerprint = _fingerprint(draft)
            if "apply" in request.POST and request.POST.get("previewed") != fingerprint:
                messages.warning(
                    request, "The values changed since the preview: check it, then apply."
                )
            elif "apply" in request.POST:
                saved = services.apply_sla_policy(
                    project, actor=request.user, draft=draft, note=form.cleaned_data["note"]
                )
                messages.success(
                    request, f"SLA policy v{saved.version} of {project.key} applies to open issues."
                )
                return redirect("sla_settings", key=project.key)
            preview = selectors.preview_policy_change(project, draft)
    versions = SlaPolicy.objects.filter(project=project).select_related("created_by")
    return render(
        request,
        "workflows/sla_settings.html",
        {
            "project": project,
            "form": form,
            "policy": policy,
            "preview": preview,
            "fingerprint": fingerprint if preview is not None else "",
            "versions": versions,
        },
        status=400 if form.errors else 200,
    )
