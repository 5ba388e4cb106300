"""Demo data for mail in (after seed_demo): WEB's address web-support@example.com, one issue
that came by e-mail and one message from a stranger waiting in quarantine. Idempotent: the
messages carry fixed Message-IDs, so a second run files nothing."""

from email.message import EmailMessage

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from mailin import services
from mailin.models import MailAddress, Transport
from projects.models import Project


def _message(sender: str, subject: str, body: str, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "web-support@example.com", subject
    msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg.as_bytes()


class Command(BaseCommand):
    help = "Add the mail-in demo data (an address, an issue filed by e-mail). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (never in production)."
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to load demo data with DEBUG off; pass --force.")
        project = Project.objects.filter(key="WEB").first()
        manager = User.objects.filter(username="manager").first()
        if project is None or manager is None:
            raise CommandError("Run seed_demo first.")
        if not MailAddress.objects.filter(address="web-support@example.com").exists():
            services.add_mail_address(project, actor=manager, address="web-support@example.com")
        services.ingest(
            _message(
                "Rita Reporter <reporter@example.com>",
                "Order confirmation e-mail never arrives",
                "Hello,\n\nI placed order 10482 an hour ago and got no confirmation e-mail "
                "(checked spam).\n\nThanks,\nRita",
                "<demo-mail-in-1@example.com>",
            ),
            transport=Transport.DROP,
        )
        services.ingest(
            _message(
                "Sam Stranger <sam@customer.example>",
                "Cannot log in since yesterday",
                "The login page says my password is wrong, but it is right.",
                "<demo-mail-in-2@customer.example>",
            ),
            transport=Transport.DROP,
        )
        self.stdout.write(self.style.SUCCESS("Mail-in demo data ready."))
