"""Reads of mail in."""

from django.db.models import QuerySet

from projects.models import Project

from .models import MailMessage, MailStatus


def quarantine_of(project: Project) -> QuerySet[MailMessage]:
    """The project's quarantined messages, newest first, without the raw bytes."""
    return (
        MailMessage.objects.filter(project=project, status=MailStatus.QUARANTINED)
        .defer("raw")
        .order_by("-received_at", "-id")
    )


def recent_mail_of(project: Project) -> QuerySet[MailMessage]:
    return (
        MailMessage.objects.filter(project=project)
        .exclude(status=MailStatus.QUARANTINED)
        .defer("raw")
        .select_related("issue__project")
        .order_by("-received_at", "-id")
    )
