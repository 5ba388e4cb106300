from django.contrib import admin

from .models import Delivery, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "url", "format", "state", "failing_since")
    list_filter = ("state", "format")
    readonly_fields = ("previous_secret_until", "wake_at")
    exclude = ("secret", "previous_secret")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("webhook_id", "subscription", "type", "state", "attempts", "last_status")
    list_filter = ("state", "type")
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
