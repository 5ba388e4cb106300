from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from workflows.issue_use_cases import EDITABLE_FIELDS, update_issue

from .models import Attachment, Comment, Issue, IssueEvent, IssueLink, Label, SavedFilter
from .services import IssueError


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Issue)
class IssueAdmin(admin.ModelAdmin):
    """Edits go through `update_issue`, so admin changes land in the audit trail too. New issues
    are filed in the app (keys, SLA clock)."""

    list_display = ("__str__", "status", "priority", "severity", "owner", "updated_at")
    list_filter = ("status", "priority", "severity", "type", "project")
    list_select_related = ("project", "owner")
    search_fields = ("title",)
    fields = ("project", "number", "status", *EDITABLE_FIELDS, "reporter", "activity")
    readonly_fields = ("project", "number", "status", "reporter", "activity")
    raw_id_fields = ("owner",)

    @admin.display(description="Activity (read-only)")
    def activity(self, obj):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    e.created_at,
                    e.actor or "system",
                    e.get_kind_display(),
                    e.field,
                    e.old_value,
                    e.new_value,
                )
                for e in obj.events.select_related("actor")
            ),
        )
        return format_html("<table>{}</table>", rows)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS
        }
        original = Issue.objects.get(pk=obj.pk)
        try:
            update_issue(original, actor=request.user, changes=changes)
        except IssueError as error:
            messages.error(request, f"Not saved: {error}")

    def save_related(self, request, form, formsets, change):
        # Labels were saved by update_issue; the event inline is read-only.
        return None


@admin.register(IssueEvent)
class IssueEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "issue", "actor", "kind", "field", "old_value", "new_value")
    list_filter = ("kind",)
    list_select_related = ("issue__project", "actor")


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "issue", "author")
    list_select_related = ("issue__project", "author")


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "issue", "filename", "size", "uploaded_by")
    list_select_related = ("issue__project", "uploaded_by")


@admin.register(IssueLink)
class IssueLinkAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "source", "kind", "target", "created_by")
    list_select_related = ("source__project", "target__project", "created_by")


admin.site.register(Label)
admin.site.register(SavedFilter)
