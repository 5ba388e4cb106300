from django.contrib import admin

from .models import Membership, Project, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "lead", "archived_at")
    search_fields = ("key", "name")
    inlines = [MembershipInline]

    def has_delete_permission(self, request, obj=None):
        # Projects are archived, not destroyed; only a superuser may purge.
        return request.user.is_superuser


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "lead")
    filter_horizontal = ("members",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("project", "user", "role")
    list_filter = ("role", "project")
    autocomplete_fields = ["user"]
