"""Seed realistic benchmark data fast: projects, people, issues with comments and history.

Tops the bench projects up to N issues (idempotent). Rows are written in batches with
PostgreSQL COPY (executemany elsewhere), bypassing the services on purpose: the point is
volume. The full-text documents are computed in the same pass with the services' own SQL.

The shape is a busy tracker's: five projects, ~200 people with all four roles (many in
several projects), teams with leads, labels, 30 % of issues with 1-20 comments, a mix of
statuses, priorities and severities, and open issues spread over every SLA state (on track,
at risk, breached, paused) relative to the moment of seeding. A rare word ("heisenbug") is
in one issue of 2,000 for the search benchmark.
"""

import functools
import json
import random
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from tqdm import tqdm

from accounts.models import User
from issues.markdown import RENDERER_VERSION, render_markdown
from issues.models import OPEN_STATUSES, EventKind, Issue, IssueType, Label, Status
from issues.services import SEARCH_DOCUMENT_SQL
from projects.models import Membership, Project, Role, Team
from projects.selectors import OWNER_ROLES

BENCH_PROJECTS = [("BENCH", "Benchmark shop"), ("BENCH2", "Benchmark API"),
                  ("BENCH3", "Benchmark mobile"), ("BENCH4", "Benchmark ops"),
                  ("BENCH5", "Benchmark data")]  # fmt: skip
BENCH_USER = "bench"
SHOWCASE_COMMENTS = 50
# People besides the bench user; each is a member of 1-3 projects with one of the four roles.
BENCH_PEOPLE = 200
BENCH_TEAMS = ["Bench team", "Checkout", "Platform", "Mobile", "Data", "Support", "Security"]
RARE_WORD = "heisenbug"
# Share of issues with comments, and how many they get at most.
COMMENTED_SHARE = 0.3
MAX_COMMENTS = 20

AREAS = ["checkout", "cart", "login", "search", "payment", "invoice", "profile", "dashboard",
         "export", "upload", "notification", "settings", "catalog", "shipping", "coupon", "api"]  # fmt: skip
PROBLEMS = ["times out", "shows stale data", "crashes on submit", "is slow under load",
            "misaligned on Safari", "returns 500", "loses input", "ignores locale",
            "leaks session", "double charges", "renders blank", "breaks on mobile"]  # fmt: skip
CONTEXTS = ["after the last deploy", "for guest users", "with many items", "in dark mode",
            "behind the proxy", "on slow networks", "for admins", "since the upgrade"]  # fmt: skip
SENTENCES = [
    "Steps: open the page, fill the form, press save.",
    "Expected the confirmation, got a spinner that never ends.",
    "Happens about one time in five; logs attached.",
    "Customers reported it through support twice today.",
    "Could be related to the cache invalidation change.",
    "Reproduced on staging with a fresh account.",
    "The database shows a long-running query at that moment.",
    "Workaround: reload the page and try again.",
]
COMMENTS = [
    "I can reproduce this on staging.",
    "Looking into it now.",
    "Fixed in the latest build, please retest.",
    "Still happens for me with a large cart.",
    "Added a log excerpt, the timeout is in the gateway call.",
    "Lowering priority, there is a workaround.",
    "Same root cause as the cache issue last week.",
    "Verified on production, closing soon.",
]
STATUS_WEIGHTS = [(Status.NEW, 20), (Status.ASSIGNED, 20), (Status.REVISE, 5),
                  (Status.RETEST, 5), (Status.FIXED, 10), (Status.CLOSED, 40)]  # fmt: skip


class Command(BaseCommand):
    help = "Create N realistic benchmark issues (with comments and history) in the BENCH projects."

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=100_000, help="Total bench issues.")
        parser.add_argument("--batch", type=int, default=5_000)
        parser.add_argument("--seed", type=int, default=42, help="Random seed (repeatable data).")

    def handle(self, *args, issues: int, batch: int, seed: int, **options):
        rng = random.Random(seed)  # nosec B311 - demo data, not security
        projects, people = self._people_and_projects()
        existing = Issue.objects.filter(project__in=projects).count()
        missing = max(0, issues - existing)
        if not missing:
            self.stdout.write(f"{existing} bench issues already there.")
            return
        self.stdout.write(f"Creating {missing} issues ({existing} already there)…")
        labels = {p.pk: list(p.labels.all()) for p in projects}
        now = datetime.now(UTC)
        bar = tqdm(total=missing, unit="issue", disable=options.get("verbosity", 1) == 0)
        done = 0
        while done < missing:
            size = min(batch, missing - done)
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    # Bench data only: losing the last batch in a crash is fine.
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit = off")
                self._batch(rng, projects, people, labels, size, now, showcase=existing + done == 0)
            done += size
            bar.update(size)
        bar.close()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # The visibility map, as autovacuum would set it soon after a bulk load: the
                # list reads its count and its page's ids with index-only scans. (Not inside a
                # transaction, where VACUUM cannot run: tests.)
                if not connection.in_atomic_block:
                    cursor.execute("VACUUM issues_issue")
                # Fresh planner statistics (projects and memberships too).
                cursor.execute("ANALYZE")
        self.stdout.write(self.style.SUCCESS(f"{issues} bench issues ready."))

    def _people_and_projects(self):
        """The bench user (a Manager of every bench project), BENCH_PEOPLE others in 1-3
        projects each with all four roles, teams with leads and members, labels."""
        bench, created = User.objects.get_or_create(
            username=BENCH_USER,
            defaults={"display_name": "Bench Mark", "email": "bench@example.com"},
        )
        if created:
            bench.set_unusable_password()
            bench.save()
        wanted = [f"bench{n:03d}" for n in range(BENCH_PEOPLE)]
        have = set(User.objects.filter(username__in=wanted).values_list("username", flat=True))
        User.objects.bulk_create(
            [
                User(
                    username=name,
                    display_name=f"Bench Person {name[5:]}",
                    email=f"{name}@example.com",
                    password="!",  # unusable: nobody logs in as them
                )
                for name in wanted
                if name not in have
            ]
        )
        others = list(User.objects.filter(username__in=wanted).order_by("username"))
        people = [bench, *others]
        projects = []
        for key, name in BENCH_PROJECTS:
            project, _ = Project.objects.get_or_create(key=key, defaults={"name": name})
            for label in ("frontend", "backend", "regression", "customer", "tech-debt"):
                Label.objects.get_or_create(project=project, name=label)
            projects.append(project)
        roles = [Role.DEVELOPER, Role.TESTER, Role.REPORTER, Role.MANAGER]
        memberships = [Membership(project=p, user=bench, role=Role.MANAGER) for p in projects]
        self.members: dict[int, list] = {p.pk: [bench] for p in projects}
        # Who may own the project's issues (projects.selectors.OWNER_ROLES), as the services
        # check.
        self.owners: dict[int, list] = {p.pk: [] for p in projects}
        for i, user in enumerate(others):
            # 1, 2 or 3 projects, consecutive from a rotating start; all four roles everywhere.
            for j in range(1 + i % 3):
                project = projects[(i + j) % len(projects)]
                memberships.append(Membership(project=project, user=user, role=roles[i % 4]))
                self.members[project.pk].append(user)
                if roles[i % 4] in OWNER_ROLES:
                    self.owners[project.pk].append(user)
        Membership.objects.bulk_create(memberships, ignore_conflicts=True)
        self.teams = []
        for n, team_name in enumerate(BENCH_TEAMS):
            team, _ = Team.objects.get_or_create(
                name=team_name, defaults={"lead": others[n] if others else bench}
            )
            team.members.add(*others[n :: len(BENCH_TEAMS)][:20])
            self.teams.append(team)
        self.team = self.teams[0]
        # The name the audit trail shows (issues.services records str(user)).
        self.names = {u.pk: str(u) for u in people}
        return projects, people

    def _batch(self, rng, projects, people, labels, size, now, *, showcase: bool):
        """One batch: issues (with their search documents), comments, events, watchers,
        labels."""
        statuses, weights = zip(*STATUS_WEIGHTS, strict=True)
        issue_rows, extras = [], []
        locked = {
            p.pk: p
            for p in Project.objects.select_for_update().filter(pk__in=[p.pk for p in projects])
        }
        for i in range(size):
            first = showcase and i == 0
            project = locked[(projects[0] if first else rng.choice(projects)).pk]
            project.last_issue_number += 1
            created = now - timedelta(minutes=rng.randint(60, 365 * 24 * 60))
            updated = min(now, created + timedelta(minutes=rng.randint(0, 60 * 24 * 30)))
            status = Status.NEW if first else rng.choices(statuses, weights)[0]
            members = self.members[project.pk]
            reporter = rng.choice(members).pk
            owners = self.owners[project.pk]
            unowned = status == Status.NEW and rng.random() < 0.7
            owner = None if unowned or not owners else rng.choice(owners).pk
            title = f"{rng.choice(AREAS).title()} {rng.choice(PROBLEMS)} {rng.choice(CONTEXTS)}"
            if first:
                n_comments = SHOWCASE_COMMENTS
            elif rng.random() < COMMENTED_SHARE:
                n_comments = rng.randint(1, MAX_COMMENTS)
            else:
                n_comments = 0
            comments = [rng.choice(COMMENTS) for _ in range(n_comments)]
            description = " ".join(rng.sample(SENTENCES, 3))
            if rng.random() < 1 / 2000:
                description += f" Looks like a {RARE_WORD}: gone when the debugger is attached."
            due, at_risk, paused = _sla_columns(rng, status, now)
            # version: the owner is given in an edit after filing (one more version).
            issue_rows.append((
                project.pk, project.last_issue_number, title, description,
                rng.choice(IssueType.values), rng.choices([1, 2, 3], [30, 50, 20])[0],
                rng.choices([1, 2, 3, 4], [15, 45, 30, 10])[0], status, reporter, owner,
                rng.choice(self.teams).pk if rng.random() < 0.5 else None, "production", None,
                created, updated, 2 if owner else 1, "", "", "", "", 1, due, paused, at_risk,
                _rendered(description), RENDERER_VERSION,
            ))  # fmt: skip
            extras.append((project.key, comments))
        for project in locked.values():
            project.save(update_fields=["last_issue_number"])

        ids = _insert_issues(issue_rows, extras)
        comment_rows, event_rows, watcher_rows, label_rows = [], [], [], []
        for row, (_key, comments) in zip(issue_rows, extras, strict=True):
            issue_id = ids[(row[0], row[1])]
            title, reporter_id, owner_id, created, updated = (
                row[2],
                row[8],
                row[9],
                row[13],
                row[14],
            )
            # The audit trail the services write: filed (the reporter watches), assigned (the
            # owner watches); each comment's below.
            event_rows.append(
                (issue_id, reporter_id, EventKind.CREATED, "", "", title, "{}", created, created)
            )
            event_rows.append(_watched(issue_id, reporter_id, reporter_id, self.names, created))
            watcher_rows.append((issue_id, reporter_id))
            if owner_id:
                data = json.dumps({"owner_id": owner_id})
                event_rows.append((issue_id, reporter_id, EventKind.CHANGED, "owner", "",
                                   self.names[owner_id], data, updated, updated))  # fmt: skip
                if owner_id != reporter_id:
                    watcher_rows.append((issue_id, owner_id))
                    event_rows.append(
                        _watched(issue_id, reporter_id, owner_id, self.names, updated)
                    )
            for c, body in enumerate(comments):
                at = created + (updated - created) * (c + 1) / (len(comments) + 1)
                author = rng.choice([reporter_id, owner_id or reporter_id])
                comment_rows.append((issue_id, author, body, _rendered(body), RENDERER_VERSION, at))
            if rng.random() < 0.3:
                label_rows.append((issue_id, rng.choice(labels[row[0]]).pk))
        # Comment ids drawn from their sequence first: each COMMENTED event names its comment.
        comment_ids = _next_ids("issues_comment", len(comment_rows))
        comment_rows = [(pk, *row) for pk, row in zip(comment_ids, comment_rows, strict=True)]
        for pk, issue_id, author, *_text, at in comment_rows:
            data = json.dumps({"comment_id": pk, "mentions": []})
            event_rows.append((issue_id, author, EventKind.COMMENTED, "", "", "", data, at, at))
        _insert(
            "issues_comment",
            ["id", "issue_id", "author_id", "body", "body_html", "body_html_version", "created_at"],
            comment_rows,
        )
        _insert(
            "issues_issueevent",
            ["issue_id", "actor_id", "kind", "field", "old_value", "new_value", "data",
             "created_at", "notified_at"],
            event_rows,
        )  # fmt: skip
        _insert("issues_issue_watchers", ["issue_id", "user_id"], watcher_rows)
        _insert("issues_issue_labels", ["issue_id", "label_id"], label_rows)


def _watched(issue_id: int, actor_id: int, user_id: int, names: dict, at: datetime) -> tuple:
    data = json.dumps({"user_id": user_id, "automatic": True})
    return (issue_id, actor_id, EventKind.WATCHED, "", "", names[user_id], data, at, at)


def _next_ids(table: str, count: int) -> list[int]:
    """`count` ids for rows of `table` written with explicit ids (PostgreSQL: from its
    sequence; elsewhere after the largest)."""
    if not count:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608  # nosec B608
        start = cursor.fetchone()[0] + 1
        return list(range(start, start + count))


def _sla_columns(rng, status: str, now: datetime):
    """(resolution_due_at, at_risk_at, sla_paused_at) of an open issue, spread over the SLA
    states as seen at `now`: 55 % on track, 15 % at risk, 20 % breached, 10 % paused."""
    if status not in OPEN_STATUSES:
        return None, None, None
    state = rng.random()
    hours = timedelta(hours=1)
    if state < 0.55:
        due = now + rng.randint(8, 300) * hours
        return due, due - rng.randint(2, 6) * hours, None
    if state < 0.70:
        due = now + rng.randint(1, 6) * hours
        return due, now - rng.randint(1, 60) * timedelta(minutes=1), None
    if state < 0.90:
        due = now - rng.randint(1, 400) * hours
        return due, due - 2 * hours, None
    due = now + rng.randint(4, 200) * hours
    return due, due - 2 * hours, now - rng.randint(1, 72) * hours


ISSUE_COLUMNS = [
    "project_id", "number", "title", "description", "type", "priority", "severity", "status",
    "reporter_id", "owner_id", "team_id", "environment", "affected_version_id", "created_at",
    "updated_at", "version", "resolution", "resolution_summary", "root_cause", "lessons_learned",
    "sla_cycle", "resolution_due_at", "sla_paused_at", "at_risk_at", "description_html",
    "description_html_version",
]  # fmt: skip


@functools.cache
def _rendered(text: str) -> str:
    # The stored rendering, as the services store it (the texts repeat: render each once).
    return str(render_markdown(text))


def _insert_issues(rows: list[tuple], extras: list[tuple[str, list[str]]]) -> dict:
    """Insert issues; returns {(project_id, number): id}. On PostgreSQL the rows go through a
    staging table so the search document is computed in the same pass (no second write)."""
    if connection.vendor != "postgresql":
        _insert("issues_issue", ISSUE_COLUMNS, rows)
        wanted = {(r[0], r[1]) for r in rows}
        found = Issue.objects.filter(number__gte=min(r[1] for r in rows)).values_list(
            "project_id", "number", "pk"
        )
        return {(p, n): pk for p, n, pk in found if (p, n) in wanted}
    cols = ", ".join(ISSUE_COLUMNS)
    document = SEARCH_DOCUMENT_SQL.format(
        key="s.project_key || ' ' || s.number::text",
        title="s.title",
        description="s.description",
        comments="s.comments",
    )
    with connection.cursor() as cursor:
        stage = (
            "CREATE TEMP TABLE IF NOT EXISTS bench_stage ON COMMIT DELETE ROWS AS SELECT "  # noqa: S608  # nosec B608
            + cols
            + ", ''::text AS project_key, ''::text AS comments FROM issues_issue WITH NO DATA"
        )
        cursor.execute(stage)
        with cursor.cursor.copy(
            f"COPY bench_stage ({cols}, project_key, comments) FROM STDIN"  # nosec B608
        ) as copy:
            for row, (key, comments) in zip(rows, extras, strict=True):
                copy.write_row((*row, key, " ".join(comments)))
        cursor.execute(
            f"INSERT INTO issues_issue ({cols}, search_vector) "  # noqa: S608  # nosec B608
            f"SELECT {cols}, {document} FROM bench_stage AS s RETURNING project_id, number, id"
        )
        ids = {(p, n): pk for p, n, pk in cursor.fetchall()}
        cursor.execute("TRUNCATE bench_stage")  # also when not committing (tests)
        return ids


def _insert(table: str, columns: list[str], rows: list[tuple]) -> None:
    """Bulk insert: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    cols = ", ".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:  # nosec B608
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({marks})",  # noqa: S608  # nosec B608
                [tuple(_lite(v) for v in row) for row in rows],
            )


def _lite(value):
    # SQLite keeps naive UTC datetimes as text, the way Django writes them.
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return value
