"""Load the demo data: users, a team, three projects, their SLA policies and issues in every
status (moved through the workflow by the right demo users). Idempotent."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from customfields.demo import seed_custom_fields_demo
from intake.demo import seed_sdk_demo
from issues.models import Issue, IssueLink, IssueType, Priority, Severity, Status
from issues.services import link_issues
from playbooks.demo import SECURITY_DEMO_ISSUE, seed_playbooks_demo, tick_demo_items
from projects.models import Membership, Project, Role, Team
from projects.services import create_component, create_version
from workflows.issue_fields import file_issue_with_fields
from workflows.issue_use_cases import create_issue, update_issue
from workflows.models import SlaPolicy
from workflows.services import hold_sla_clock, transition_issue

try:  # the demo's clock (issues filed hours ago): a development extra, not in the image
    import time_machine
except ImportError:  # pragma: no cover - only without the dev extras
    time_machine = None  # type: ignore[assignment]

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


# Per project: the SLA policy v1 (the rest are the defaults).
POLICIES = {
    "WEB": {
        "time_zone": "Europe/Berlin",
        "holiday_country": "DE",
        "warnings": [50, 75, 90],
        "note": "Shop: Berlin office hours, German holidays",
    },
    "API": {
        "time_zone": "UTC",
        "warnings": [75, -30],
        "paused_statuses": [Status.RETEST.value],
        "note": "API: UTC office hours; the clock pauses in Retest",
    },
    "OPS": {"note": "Default policy"},
}

# Per issue (by position in ISSUES): where it ends up, and how many hours ago it was filed
# (so the demo shows at-risk and breached clocks, not only fresh ones).
PLAN = [
    ("revise", 3.5),  # Critical, 24x7: past the warnings, due in 30 min
    ("new", 0),
    ("closed", 30),
    ("retest", 5),
    ("hold", 2),
    ("assigned", 6),  # Critical, 24x7: breached
    ("fixed", 20),
    ("dismissed", 1),
]


def _filed_hours_ago(hours: float, project: Project, **fields) -> Issue:
    """File the issue through the service as if `hours` ago: the clock travels back for the
    filing, so the issue, its creation record, its SLA ledger, cycle and deadlines are exactly
    what the service wrote at that moment (the demo shows at-risk and breached clocks)."""
    if not hours:
        return create_issue(project, **fields)
    with time_machine.travel(timezone.now() - timedelta(hours=hours), tick=True):
        return create_issue(project, **fields)


def _move(issue: Issue, goal: str, users: dict, reporter, first: Issue | None) -> None:
    """Walk the issue through the lifecycle as the people who would do it."""
    manager, developer, tester = users["manager"], users["developer"], users["tester"]
    if goal == "new":
        return
    if goal == "dismissed":
        if first is not None:
            transition_issue(
                issue,
                Status.CLOSED,
                actor=manager,
                resolution="duplicate",
                duplicate_of=first.key,
                resolution_summary="Same root cause.",
            )
        else:
            transition_issue(issue, Status.CLOSED, actor=manager, resolution="wont_fix")
        return
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    if goal == "hold":
        hold_sla_clock(
            issue, actor=developer, reason="waiting_on_reporter", note="Asked for a screenshot."
        )
    if goal in ("assigned", "hold"):
        return
    transition_issue(issue, Status.REVISE, actor=developer)
    if goal == "revise":
        return
    transition_issue(
        issue, Status.RETEST, actor=developer, fix_summary="Patched and deployed to staging."
    )
    if goal == "retest":
        return
    transition_issue(issue, Status.FIXED, actor=tester)
    if goal == "fixed":
        return
    transition_issue(
        issue,
        Status.CLOSED,
        actor=reporter,  # the reporter confirms the fix (the Manager where there is none)
        resolution_summary="Fixed in release 2.4; verified in production.",
        root_cause="code",
        lessons_learned="Add a regression test for each browser we support.",
    )


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
        if time_machine is None:
            raise CommandError("The demo needs the development extras: pip install -e '.[dev]'.")
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
            policy = POLICIES[key]
            SlaPolicy.objects.get_or_create(
                project=project, version=1, defaults={**policy, "created_by": users["manager"]}
            )
            if not Issue.objects.filter(project=project).exists():
                reporter = users["reporter"] if "reporter" in members else users["manager"]
                can_work = "developer" in members and "tester" in members
                first = None
                for (title, type_, priority, severity), (goal, hours) in zip(
                    ISSUES, PLAN, strict=True
                ):
                    issue = _filed_hours_ago(
                        hours,
                        project,
                        reporter=reporter,
                        title=title if key == "WEB" else f"[{key}] {title}",
                        description=f"Seen in production.\n\n**Steps**: open the {name}.",
                        type=type_,
                        priority=priority,
                        severity=severity,
                        team=team,
                    )
                    if can_work or goal == "dismissed":
                        _move(issue, goal, users, reporter, first)
                    first = first or issue
                if key == "WEB":
                    _shape_demo(project, users, team)
        _link_across_projects(users["manager"])
        # The security issue is assigned with its playbook before the fields are asked for.
        _templates_and_playbook(Project.objects.get(key="WEB"), users)
        # After the issues moved along: the fields are asked for from now on.
        seed_custom_fields_demo(Project.objects.get(key="WEB"), actor=users["manager"])
        seed_sdk_demo(Project.objects.get(key="WEB"), actor=users["manager"])
        self.stdout.write(self.style.SUCCESS("Demo data ready."))


# WEB's components (name, description, lead, default team) and versions (name, days from
# today to the due date, released).
COMPONENTS = [
    ("Checkout", "Cart, payment and order confirmation.", "developer", None),
    ("Search", "Product search and suggestions.", None, "Core"),
    ("Accounts", "Sign-up, login and profiles.", "developer", "Core"),
]
VERSIONS = [("2.4", -20, True), ("2.5", 14, False), ("3.0", 60, False)]


def _shape_demo(project: Project, users: dict, team: Team) -> None:
    """WEB uses components (with leads) and versions; its issues are spread over them (set
    after the issues moved through the workflow, as an edit by the manager)."""
    manager = users["manager"]
    today = timezone.localdate()
    components = [
        create_component(
            project,
            actor=manager,
            name=name,
            description=text,
            lead=users[lead] if lead else None,
            default_team=team if team_name else None,
        )
        for name, text, lead, team_name in COMPONENTS
    ]
    versions = [
        create_version(
            project,
            actor=manager,
            name=name,
            due_date=today + timedelta(days=days),
            released=released,
        )
        for name, days, released in VERSIONS
    ]
    for i, issue in enumerate(Issue.objects.filter(project=project).order_by("number")):
        changes = {
            "component": components[i % len(components)],
            "fix_version": versions[1 + i % 2] if issue.is_open else versions[0],
        }
        if issue.type == IssueType.BUG or i % 2 == 0:
            changes["affected_version"] = versions[0]
        update_issue(issue, actor=manager, changes=changes)


def _templates_and_playbook(project: Project, users: dict) -> None:
    """A template per type on WEB, and a security issue with its playbook partly ticked."""
    version = seed_playbooks_demo(project, manager=users["manager"])
    if version is None:
        return
    issue = file_issue_with_fields(
        project,
        reporter=users["reporter"],
        custom_values={},
        template_version=version,
        **SECURITY_DEMO_ISSUE,
    )
    transition_issue(issue, Status.ASSIGNED, actor=users["manager"], owner=users["developer"].pk)
    tick_demo_items(issue, developer=users["developer"])


def _link_across_projects(manager) -> None:
    """WEB-1 is blocked by OPS's certificate task (the manager is in both projects): the
    developer, tester and reporter, who are not in OPS, see "a linked issue in a project you
    cannot see" on WEB-1."""
    blocked = Issue.objects.filter(project__key="WEB", number=1).first()
    blocker = Issue.objects.filter(project__key="OPS", title__contains="TLS certificates").first()
    if blocked is None or blocker is None:
        return
    if not IssueLink.objects.filter(source=blocker, target=blocked).exists():
        link_issues(blocker, target=blocked, kind="blocks", actor=manager)
