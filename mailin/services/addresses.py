"""A project's mail settings (Managers): its inbound addresses with their issue defaults, and
who may file by e-mail."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from issues.mailthread import reply_mailbox
from issues.models import IssueType, Priority, Severity
from projects.models import Project
from projects.selectors import is_manager

from ..models import AcceptFrom, MailAddress, MailSettings
from .common import MailInError, _own_from


def _require_manager(project: Project, actor) -> None:
    if not is_manager(actor, project):
        raise MailInError("Only the project's managers can change its mail settings.")


def normalise_address(value: str) -> str:
    address = value.strip().lower()
    try:
        validate_email(address)
    except ValidationError:
        raise MailInError("Enter a valid e-mail address.", field="address") from None
    return address


def add_mail_address(
    project: Project,
    *,
    actor,
    address: str,
    type: str = IssueType.BUG,
    priority: int = Priority.MEDIUM,
    severity: int = Severity.MINOR,
) -> MailAddress:
    """Give the project an inbound address (plus-addressing such as resolve+web@… included)."""
    _require_manager(project, actor)
    address = normalise_address(address)
    reply_local, reply_domain = reply_mailbox()
    local, _, domain = address.rpartition("@")
    if domain == reply_domain and local.partition("+")[0] == reply_local:
        raise MailInError("That is Resolve's reply address; choose another.", field="address")
    if address == _own_from():
        raise MailInError("That is the address Resolve sends from.", field="address")
    existing = MailAddress.objects.filter(address=address).select_related("project").first()
    if existing is not None:
        where = "this project" if existing.project_id == project.pk else "another project"
        raise MailInError(f"{address} is already used by {where}.", field="address")
    try:
        with transaction.atomic():
            return MailAddress.objects.create(
                project=project,
                address=address,
                type=type,
                priority=priority,
                severity=severity,
                created_by=actor,
            )
    except IntegrityError:
        raise MailInError(f"{address} is already used.", field="address") from None


def update_mail_address(
    mail_address: MailAddress, *, actor, type: str, priority: int, severity: int
) -> MailAddress:
    _require_manager(mail_address.project, actor)
    mail_address.type, mail_address.priority, mail_address.severity = type, priority, severity
    mail_address.save(update_fields=["type", "priority", "severity"])
    return mail_address


def remove_mail_address(mail_address: MailAddress, *, actor) -> None:
    _require_manager(mail_address.project, actor)
    mail_address.delete()


def mail_settings_of(project: Project) -> MailSettings:
    return MailSettings.objects.filter(project=project).first() or MailSettings(project=project)


def set_accept_from(project: Project, *, actor, accept_from: str) -> MailSettings:
    _require_manager(project, actor)
    if accept_from not in AcceptFrom.values:
        raise MailInError("Choose who may file by e-mail.", field="accept_from")
    row, _ = MailSettings.objects.update_or_create(
        project=project, defaults={"accept_from": accept_from}
    )
    return row
