from django.contrib import admin

from .models import DigestEmail, EscalationLadder, Notification, NotificationPreference


@admin.register(EscalationLadder)
class EscalationLadderAdmin(admin.ModelAdmin):
    list_display = ("project", "warn_owner", "breach_owner", "breach_team_lead", "escalate_after")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "recipient",
        "kind",
        "summary",
        "email_status",
        "email_error",
        "read_at",
    )
    list_filter = ("kind", "email_status", "mode")
    search_fields = ("summary", "message_id", "recipient__username")
    raw_id_fields = ("recipient", "issue", "actor", "event", "checkpoint", "digest")
    date_hierarchy = "created_at"


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "mode")
    list_filter = ("kind", "mode")


@admin.register(DigestEmail)
class DigestEmailAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "recipient",
        "batch_key",
        "email_status",
        "email_error",
        "email_sent_at",
    )
    list_filter = ("email_status",)
