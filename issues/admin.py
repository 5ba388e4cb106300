from django.contrib import admin

from .models import Issue, IssueEvent, Label


class IssueEventInline(admin.TabularInline):
    model = IssueEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "actor", "kind", "field", "old_value", "new_value")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Issue)
class IssueAdmin(admin.ModelAdmin):
    list_display = ("__str__", "status", "priority", "severity", "owner", "updated_at")
    list_filter = ("status", "priority", "severity", "type", "project")
    search_fields = ("title",)
    readonly_fields = ("status", "number", "sla_cycle", "response_due_at", "resolution_due_at")
    inlines = [IssueEventInline]


@admin.register(IssueEvent)
class IssueEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "issue", "actor", "kind", "field", "old_value", "new_value")
    list_filter = ("kind",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(Label)
