"""Admin: policies and overrides are editable; the ledger, cycles and checkpoints are read-only
(status changes go through `transition_issue`, never through a form field)."""

from django.contrib import admin

from .models import ClockEvent, SlaCheckpoint, SlaCycle, SlaPolicy, StatusPeriod, TransitionRule
from .transitions import TRANSITIONS, actors_text


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TransitionRule)
class TransitionRuleAdmin(admin.ModelAdmin):
    list_display = ("project", "transition", "actors", "default_actors", "updated_at")
    list_filter = ("project",)

    @admin.display(description="Default (transition table)")
    def default_actors(self, obj):
        row = next((t for t in TRANSITIONS if t.name == obj.transition), None)
        return actors_text(row.actors) if row else "?"


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ReadOnlyAdmin):
    """Versions are created on the project's SLA settings page (preview first)."""

    list_display = ("project", "version", "created_at", "created_by", "note")
    list_filter = ("project",)


@admin.register(SlaCycle)
class SlaCycleAdmin(ReadOnlyAdmin):
    list_display = ("issue", "number", "started_at", "resolution_due_at", "stopped_at", "outcome")
    list_filter = ("outcome",)


@admin.register(ClockEvent)
class ClockEventAdmin(ReadOnlyAdmin):
    list_display = ("issue", "cycle", "kind", "at", "source", "reason", "actor")
    list_filter = ("kind",)


@admin.register(SlaCheckpoint)
class SlaCheckpointAdmin(ReadOnlyAdmin):
    list_display = ("issue", "cycle", "kind", "threshold", "due_at", "flagged_at")
    list_filter = ("kind",)


@admin.register(StatusPeriod)
class StatusPeriodAdmin(ReadOnlyAdmin):
    list_display = ("issue", "cycle", "status", "entered_at", "left_at")
