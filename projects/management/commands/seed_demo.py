"""Load the demo data: users, a team, three projects and issues. Idempotent."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from issues.models import Issue, IssueType, Priority, Severity
from issues.services import create_issue
from projects.models import Membership, Project, Role, Team

# The documented demo password; the command refuses to run with DEBUG off.
DEMO_PASSWORD = "resolve-demo"  # nosec B105

USERS = [
    # username, display name, time zone
    ("manager", "Maya Manager", "Europe/Berlin"),
    ("developer", "Dev Eloper", "Europe/London"),
    ("tester", "Tess Tester", "America/New_York"),
    ("reporter", "Rita Reporter", "UTC"),
    ("admin", "Ada Admin", "UTC"),
]

PROJECTS = [
    (
        "WEB",
        "Web shop",
        "The customer-facing shop.",
        ["manager", "developer", "tester", "reporter"],
    ),
    ("API", "Public API", "REST API used by partners.", ["manager", "developer", "tester"]),
    ("OPS", "Operations", "Infrastructure and on-call.", ["manager"]),
]

ROLE_OF = {
    "manager": Role.MANAGER,
    "developer": Role.DEVELOPER,
    "tester": Role.TESTER,
    "reporter": Role.REPORTER,
}

ISSUES = [
    ("Checkout times out under load", IssueType.PERFORMANCE, Priority.HIGH, Severity.CRITICAL),
    ("Cart badge shows stale count", IssueType.BUG, Priority.MEDIUM, Severity.MINOR),
    ("Login button misaligned on Safari", IssueType.COMPATIBILITY, Priority.LOW, Severity.TRIVIAL),
    ("Cookie banner lacks reject-all option", IssueType.COMPLIANCE, Priority.HIGH, Severity.MAJOR),
    ("Product pages miss canonical links", IssueType.SEO, Priority.LOW, Severity.MINOR),
    ("Password reset token never expires", IssueType.SECURITY, Priority.HIGH, Severity.CRITICAL),
    ("Dark mode contrast too low in tables", IssueType.UI_UX, Priority.MEDIUM, Severity.MINOR),
    ("Rotate the TLS certificates", IssueType.TASK, Priority.MEDIUM, Severity.MAJOR),
]


class Command(BaseCommand):
    help = "Create the demo users (password resolve-demo), projects and issues. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (never in production)."
        )

    @transaction.atomic
    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to create demo users with DEBUG off; pass --force.")
        users = {}
        for username, display, tz in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "display_name": display,
                    "time_zone": tz,
                    "email": f"{username}@example.com",
                    "is_staff": username == "admin",
                    "is_superuser": username == "admin",
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            users[username] = user

        team, _ = Team.objects.get_or_create(name="Core", defaults={"lead": users["manager"]})
        team.members.add(users["developer"], users["tester"], users["manager"])

        for key, name, description, members in PROJECTS:
            project, _ = Project.objects.get_or_create(
                key=key,
                defaults={"name": name, "description": description, "lead": users["manager"]},
            )
            for username in members:
                Membership.objects.get_or_create(
                    project=project, user=users[username], defaults={"role": ROLE_OF[username]}
                )
            if not Issue.objects.filter(project=project).exists():
                reporter = users["reporter"] if "reporter" in members else users["manager"]
                for title, type_, priority, severity in ISSUES:
                    create_issue(
                        project,
                        reporter=reporter,
                        title=title if key == "WEB" else f"[{key}] {title}",
                        description=f"Seen in production.\n\n**Steps**: open the {name}.",
                        type=type_,
                        priority=priority,
                        severity=severity,
                        team=team,
                    )
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
