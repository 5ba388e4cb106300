from typing import Self

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models


class Role(models.TextChoices):
    REPORTER = "reporter", "Reporter"
    DEVELOPER = "developer", "Developer"
    TESTER = "tester", "Tester"
    MANAGER = "manager", "Manager"


class ProjectQuerySet(models.QuerySet):
    def active(self) -> Self:
        return self.filter(archived_at__isnull=True)


class Project(models.Model):
    key = models.CharField(
        max_length=10,
        unique=True,
        validators=[RegexValidator(r"^[A-Z][A-Z0-9]{1,9}$", "2–10 uppercase letters or digits.")],
        help_text="Short uppercase key, e.g. WEB; issue keys are WEB-1, WEB-2 …",
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The last issue number handed out; bumped under a row lock (see issues.services).
    last_issue_number = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} · {self.name}"


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_role_per_project")
        ]
        indexes = [models.Index(fields=["user", "project"])]
        ordering = ["project__key", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} · {self.project.key} · {self.get_role_display()}"


class ComponentQuerySet(models.QuerySet):
    def active(self) -> Self:
        return self.filter(archived_at__isnull=True)


class Component(models.Model):
    """A part of a project's system and who looks after it: its lead first, else the
    least-loaded available Developer of its default team (workflows.assignment, "by component").
    Archived components stay on the issues that have them but are offered for no new choice."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="components")
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True, max_length=2000)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    default_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ComponentQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_component_per_project")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class Version(models.Model):
    """A version or milestone of a project: what an issue affects and what fixes it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="versions")
    name = models.CharField(max_length=60)
    due_date = models.DateField(null=True, blank=True)
    released = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Unreleased first, the nearest due date first, undated last.
        ordering = ["released", models.F("due_date").asc(nulls_last=True), "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_version_per_project")
        ]

    def __str__(self) -> str:
        return self.name
