"""Mail in: project addresses, and every message received (the raw bytes kept)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from issues.models import IssueType, Priority, Severity


class AcceptFrom(models.TextChoices):
    MEMBERS = "members", "Members of the project only"
    ANYONE = "anyone", "Anyone (senders without an account become contacts)"


class MailSettings(models.Model):
    """Per-project mail-in settings (a missing row means the defaults)."""

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="mail_settings"
    )
    accept_from = models.CharField(
        max_length=10, choices=AcceptFrom.choices, default=AcceptFrom.MEMBERS
    )

    def __str__(self) -> str:
        return f"Mail settings of {self.project_id}"


class MailAddress(models.Model):
    """An inbound address of a project (stored lower-case), with the defaults of its issues."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="mail_addresses"
    )
    address = models.EmailField(max_length=254, unique=True)
    type = models.CharField(max_length=16, choices=IssueType.choices, default=IssueType.BUG)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.MEDIUM)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.MINOR)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["address"]

    def __str__(self) -> str:
        return self.address


class MailStatus(models.TextChoices):
    RECEIVED = "received", "Received, not yet processed"
    FILED = "filed", "Filed as an issue"
    COMMENTED = "commented", "Added as a comment"
    QUARANTINED = "quarantined", "In quarantine"
    IGNORED = "ignored", "Ignored (automatic mail)"
    DISCARDED = "discarded", "Discarded"


class Transport(models.TextChoices):
    SMTP = "smtp", "SMTP/LMTP"
    IMAP = "imap", "IMAP"
    DROP = "drop", "Drop folder"
    RELEASE = "release", "Released from quarantine"


class MailMessage(models.Model):
    """One message for one project, stored (raw bytes included) before it is acknowledged.

    `fingerprint` = SHA-256 of the project and the Message-ID: the unique key that makes a
    message handed over twice (MTA retry, two IMAP pollers) processed once per project."""

    fingerprint = models.CharField(max_length=64, unique=True)
    message_id = models.CharField(max_length=998)
    # Storing a message takes a KEY SHARE lock on the project's row (the foreign key); it
    # does not wait on a filing, which hands out issue keys under FOR NO KEY UPDATE.
    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="mail_messages",
    )
    address = models.ForeignKey(
        MailAddress, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    transport = models.CharField(max_length=10, choices=Transport.choices)
    sender = models.CharField(max_length=254, blank=True, db_index=False)
    envelope_from = models.CharField(max_length=254, blank=True)
    recipients = models.TextField(blank=True)
    subject = models.CharField(max_length=300, blank=True)
    raw = models.BinaryField()
    size = models.PositiveBigIntegerField(default=0)
    status = models.CharField(
        max_length=12, choices=MailStatus.choices, default=MailStatus.RECEIVED
    )
    reason = models.CharField(max_length=300, blank=True)
    issue = models.ForeignKey(
        "issues.Issue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.ForeignKey(
        "issues.Comment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # The per-sender rate limit and the one-bounce-per-day rule.
            models.Index(fields=["sender", "received_at"], name="mail_sender_received"),
            # A project's quarantine list.
            models.Index(
                fields=["project", "-received_at"],
                name="mail_quarantine",
                condition=Q(status="quarantined"),
            ),
            # The catch-up for messages left unprocessed by a crash.
            models.Index(
                fields=["received_at"], name="mail_pending", condition=Q(status="received")
            ),
            # "Came by email": the issue page looks its filing message up.
            models.Index(fields=["issue"], name="mail_issue", condition=Q(status="filed")),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.get_status_display()})"
