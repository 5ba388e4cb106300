"""Seed realistic benchmark data fast: projects, people, issues with comments and history.

Tops the bench projects up to N issues (idempotent). Rows are written in batches with
PostgreSQL COPY (executemany elsewhere), bypassing the services on purpose: the point is
volume. The full-text documents are computed afterwards with the services' own SQL.
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

BENCH_PROJECTS = [("BENCH", "Benchmark shop"), ("BENCH2", "Benchmark API"),
                  ("BENCH3", "Benchmark mobile"), ("BENCH4", "Benchmark ops")]  # fmt: skip
BENCH_USER = "bench"
SHOWCASE_COMMENTS = 50

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
        bench, created = User.objects.get_or_create(
            username=BENCH_USER,
            defaults={"display_name": "Bench Mark", "email": "bench@example.com"},
        )
        if created:
            bench.set_unusable_password()
            bench.save()
        people = [bench]
        for n in range(24):
            user, made = User.objects.get_or_create(
                username=f"bench{n:02d}",
                defaults={"display_name": f"Bench Person {n}", "email": f"bench{n}@example.com"},
            )
            if made:
                user.set_unusable_password()
                user.save()
            people.append(user)
        team, _ = Team.objects.get_or_create(name="Bench team")
        projects = []
        for key, name in BENCH_PROJECTS:
            project, _ = Project.objects.get_or_create(key=key, defaults={"name": name})
            for i, user in enumerate(people):
                role = [Role.DEVELOPER, Role.TESTER, Role.REPORTER, Role.MANAGER][i % 4]
                Membership.objects.get_or_create(
                    project=project, user=user, defaults={"role": role}
                )
            for label in ("frontend", "backend", "regression", "customer", "tech-debt"):
                Label.objects.get_or_create(project=project, name=label)
            projects.append(project)
        self.team = team
        self.usernames = {u.pk: u.username for u in people}
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
            reporter = rng.choice(people).pk
            owner = None if status == Status.NEW and rng.random() < 0.7 else rng.choice(people).pk
            title = f"{rng.choice(AREAS).title()} {rng.choice(PROBLEMS)} {rng.choice(CONTEXTS)}"
            n_comments = (
                SHOWCASE_COMMENTS if first else rng.choices([0, 1, 2, 3], [35, 35, 20, 10])[0]
            )
            comments = [rng.choice(COMMENTS) for _ in range(n_comments)]
            due = (
                created + timedelta(hours=rng.choice([8, 24, 72, 120]))
                if status in OPEN_STATUSES
                else None
            )
            description = " ".join(rng.sample(SENTENCES, 3))
            issue_rows.append((
                project.pk, project.last_issue_number, title, description,
                rng.choice(IssueType.values), rng.choices([1, 2, 3], [30, 50, 20])[0],
                rng.choices([1, 2, 3, 4], [15, 45, 30, 10])[0], status, reporter, owner,
                self.team.pk if rng.random() < 0.5 else None, "production", "", created, updated,
                1, "", "", "", "", 1, due, None, due - timedelta(hours=2) if due else None,
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
            event_rows.append(
                (issue_id, reporter_id, EventKind.CREATED, "", "", title, "{}", created, created)
            )
            watcher_rows.append((issue_id, reporter_id))
            if owner_id:
                if owner_id != reporter_id:
                    watcher_rows.append((issue_id, owner_id))
                data = json.dumps({"owner_id": owner_id})
                event_rows.append((issue_id, reporter_id, EventKind.CHANGED, "owner", "",
                                   self.usernames[owner_id], data, updated, updated))  # fmt: skip
            for c, body in enumerate(comments):
                at = created + (updated - created) * (c + 1) / (len(comments) + 1)
                author = rng.choice([reporter_id, owner_id or reporter_id])
                comment_rows.append((issue_id, author, body, _rendered(body), RENDERER_VERSION, at))
            if rng.random() < 0.3:
                label_rows.append((issue_id, rng.choice(labels[row[0]]).pk))
        _insert(
            "issues_comment",
            ["issue_id", "author_id", "body", "body_html", "body_html_version", "created_at"],
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


ISSUE_COLUMNS = [
    "project_id", "number", "title", "description", "type", "priority", "severity", "status",
    "reporter_id", "owner_id", "team_id", "environment", "affected_version", "created_at",
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
