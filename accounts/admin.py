from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Resolve", {"fields": ("display_name", "time_zone")}),
    )
    list_display = ("username", "display_name", "email", "time_zone", "is_staff", "is_active")
