"""One issue: its page, timeline, edit form, comments, attachments, watching and links."""

import mimetypes

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from customfields.forms import (
    add_custom_fields,
    check_custom_fields,
    custom_bound_fields,
    custom_values,
)
from customfields.selectors import (
    fields_of,
    panel_rows,
    values_of,
)
from workflows.issue_fields import update_issue_with_fields
from workflows.selectors import set_cycles

from ..forms import (
    AttachmentForm,
    CommentForm,
    IssueEditForm,
    LinkForm,
)
from ..models import Attachment, IssueType
from ..selectors import get_issue_for_user, get_link_of_issue
from ..services import (
    IssueAccessError,
    IssueError,
    add_attachment,
    add_comment,
    link_issues,
    unlink_issues,
    unwatch_issue,
    watch_issue,
)
from ..timeline import TIMELINE_PAGE, TimelineCursor, issue_page_data, timeline_page
from .common import _refused_status


def _render_detail(request: HttpRequest, issue, *, status: int = 200, **forms) -> HttpResponse:
    # The SLA box and the stage durations both read the cycles: fetch them once.
    set_cycles(issue)
    context = {
        "issue": issue,
        "comment_form": forms.get("comment_form") or CommentForm(),
        "attachment_form": forms.get("attachment_form") or AttachmentForm(),
        "link_form": forms.get("link_form") or LinkForm(),
        "custom_rows": panel_rows(issue),
        **issue_page_data(issue, request.user),
    }
    return render(request, "issues/detail.html", context, status=status)


@login_required
def issue_detail(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    return _render_detail(request, issue)


@login_required
def issue_timeline(request: HttpRequest, key: str) -> HttpResponse:
    """The next entries of a long timeline (the issue page's "load more"): the entries alone
    for htmx, else a small page of them with a link to the next ones."""
    issue = get_issue_for_user(request.user, key)
    after = TimelineCursor.parse(request.GET.get("after", ""))
    before = TimelineCursor.parse(request.GET.get("before", ""))
    if after is None or before is None:
        messages.error(request, "That part of the activity is not there any more.")
        return redirect(issue)
    page = timeline_page(issue, request.user, after=after, before=before)
    template = "issues/_timeline_page.html" if request.headers.get("HX-Request") else None
    return render(
        request,
        template or "issues/timeline.html",
        {"issue": issue, "page_size": TIMELINE_PAGE, **page},
    )


def _render_edit(request: HttpRequest, issue, form: IssueEditForm, status: int = 200):
    return render(
        request,
        "issues/edit.html",
        {"issue": issue, "form": form, "custom_fields": custom_bound_fields(form)},
        status=status,
    )


@login_required
def issue_edit(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    if request.method != "POST":
        initial = {f: getattr(issue, f) for f in IssueEditForm.base_fields if hasattr(issue, f)}
        initial["labels"] = list(issue.labels.all())
        form = IssueEditForm(initial=initial, issue=issue)
        fields = fields_of(issue.project, issue.type)
        add_custom_fields(form, fields, status=issue.status, values=values_of(issue))
        return _render_edit(request, issue, form)
    form = IssueEditForm(request.POST, issue=issue)
    # The custom fields of the type chosen on the form (a type change shows the new type's).
    issue_type = request.POST.get("type")
    fields = fields_of(issue.project, issue_type if issue_type in IssueType.values else issue.type)
    add_custom_fields(form, fields, status=issue.status, values=values_of(issue), initial=False)
    if form.is_valid():
        check_custom_fields(form)
    if not form.errors:
        try:
            changed = update_issue_with_fields(
                issue,
                actor=request.user,
                changes=form.changes(),
                custom_values=custom_values(form),
                expected_version=form.cleaned_data["version"],
                reason=form.cleaned_data["reason"],
            )
        except IssueError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            if changed:
                messages.success(request, f"Saved {issue.key}.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect(issue)
    return _render_edit(request, issue, form, status=400)


@login_required
@require_POST
def issue_comment(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    form = CommentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            comment = add_comment(
                issue,
                author=request.user,
                body=form.cleaned_data["body"],
                attachments=form.cleaned_data["files"],
            )
        except IssueError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            return redirect(f"{issue.get_absolute_url()}#comment-{comment.pk}")
    return _render_detail(request, issue, comment_form=form, status=_refused_status(request))


@login_required
@require_POST
def issue_attach(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            attachment = add_attachment(issue, actor=request.user, upload=form.cleaned_data["file"])
        except IssueError as error:
            form.add_error("file", str(error))
        else:
            messages.success(request, f"Attached {attachment.filename}.")
            return redirect(issue)
    return _render_detail(request, issue, attachment_form=form, status=_refused_status(request))


SAFE_CONTENT_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/zip",
    "application/json",
}


@login_required
def attachment_download(request: HttpRequest, key: str, pk: int) -> FileResponse:
    issue = get_issue_for_user(request.user, key)
    attachment = get_object_or_404(Attachment, pk=pk, issue=issue)
    guessed, _ = mimetypes.guess_type(attachment.filename)
    content_type = guessed if guessed in SAFE_CONTENT_TYPES else "application/octet-stream"
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing.") from None
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
@require_POST
def issue_watch(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    if request.POST.get("action") == "unwatch":
        unwatch_issue(issue, user=request.user)
        messages.info(request, f"You no longer watch {issue.key}.")
    else:
        watch_issue(issue, user=request.user)
        messages.success(request, f"You now watch {issue.key}.")
    return redirect(issue)


@login_required
@require_POST
def issue_link(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    form = LinkForm(request.POST)
    if form.is_valid():
        try:
            target = get_issue_for_user(request.user, form.cleaned_data["target"])
        except Http404:
            form.add_error("target", "No issue with this key that you can see.")
        else:
            try:
                link_issues(
                    issue, target=target, kind=form.cleaned_data["kind"], actor=request.user
                )
            except IssueError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
                status = 403 if isinstance(error, IssueAccessError) else 400
                return _render_detail(request, issue, link_form=form, status=status)
            else:
                messages.success(request, f"Linked {issue.key} and {target.key}.")
                return redirect(issue)
    return _render_detail(request, issue, link_form=form, status=400)


@login_required
@require_POST
def issue_unlink(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    issue = get_issue_for_user(request.user, key)
    link = get_link_of_issue(issue, pk)
    try:
        unlink_issues(link, actor=request.user)
    except IssueError as error:
        form = LinkForm.refused(str(error))
        status = 403 if isinstance(error, IssueAccessError) else 400
        return _render_detail(request, issue, link_form=form, status=status)
    messages.info(request, "Link removed.")
    return redirect(issue)
