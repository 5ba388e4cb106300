from django.contrib import admin

from .models import CustomField, CustomFieldOption


class OptionInline(admin.TabularInline):
    model = CustomFieldOption
    extra = 0


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "project", "kind", "required", "required_from", "archived_at")
    list_filter = ("project", "kind")
    inlines = [OptionInline]
