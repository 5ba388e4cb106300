from django.contrib import admin

from .models import MailAddress, MailMessage, MailSettings


@admin.register(MailAddress)
class MailAddressAdmin(admin.ModelAdmin):
    list_display = ("address", "project", "type", "priority", "severity")
    list_select_related = ("project",)

    def has_add_permission(self, request):  # through the project's mail page (the service)
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MailSettings)
class MailSettingsAdmin(admin.ModelAdmin):
    list_display = ("project", "accept_from")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MailMessage)
class MailMessageAdmin(admin.ModelAdmin):
    """Read-only: includes mail for no project (unknown addresses), which only staff see."""

    list_display = ("received_at", "sender", "subject", "project", "status", "reason")
    list_filter = ("status", "transport")
    search_fields = ("sender", "subject", "message_id")
    list_select_related = ("project",)
    exclude = ("raw",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
