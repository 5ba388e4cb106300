"""Benchmark the SLA sweep on PostgreSQL: 1,000,000 open issues, 1 % crossing a threshold.

Steps: seed the issues and their checkpoints with set-based SQL (once; reused by later runs),
time a sweep with nothing due, make 1 % of the warnings due, time the sweep that flags them
(events, alerts and queued emails included), print the figures and write var/bench/sweep.json.
"""

import json
import statistics
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from issues.models import Issue, IssueEvent
from notifications.models import Notification, SlaEscalation
from notifications.services import sweep_sla
from projects.models import Membership, Project, Role
from tracker.celery import app
from workflows.models import SlaCheckpoint

BENCH_KEY = "SWEEP"  # a project of its own (the page benches use BENCH…, DASH…)
BENCH_QUEUE = "resolve-bench-sweep"


class Command(BaseCommand):
    help = (
        "Time the SLA sweep with 1,000,000 open issues on PostgreSQL (writes var/bench/sweep.json)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=1_000_000)
        parser.add_argument("--due-percent", type=float, default=1.0)
        parser.add_argument("--output", default=str(settings.VAR_DIR / "bench" / "sweep.json"))

    def handle(self, *args, issues: int, due_percent: float, output: str, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_sweep needs PostgreSQL: set DATABASE_URL=postgres://...")

        # Alerts are queued to a queue of their own and purged: no worker sends 10,000 emails.
        app.conf.task_default_queue = BENCH_QUEUE
        project, owner = self._fixtures()
        started = time.perf_counter()
        self._seed(project, owner, issues)
        seed_s = time.perf_counter() - started
        self._reset(project)

        noop = []
        for _ in range(5):
            noop.append(self._timed())
        noop_ms = statistics.median(t for t, _, _ in noop) * 1000
        noop_queries = noop[0][1]

        due = self._arm(project, due_percent)
        busy_s, busy_queries, result = self._timed()
        self._purge(app)

        figures = {
            "open_issues": issues,
            "due_checkpoints": due,
            "seed_seconds": round(seed_s, 1),
            "noop_sweep_ms": round(noop_ms, 1),
            "noop_sweep_queries": noop_queries,
            "sweep_seconds": round(busy_s, 2),
            "sweep_queries": busy_queries,
            "flagged": result.flagged,
            "alerts": result.alerts,
            "emails_queued": result.emails,
        }
        out = settings.VAR_DIR / "bench" / "sweep.json" if not output else output

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(figures, indent=2) + "\n")
        self.stdout.write(
            f"SLA sweep, {issues:,} open issues on PostgreSQL:\n"
            f"  no-op sweep:   {noop_ms:8.1f} ms  ({noop_queries} queries, median of 5)\n"
            f"  {due_percent:g} % sweep:   {busy_s * 1000:8.0f} ms  ({busy_queries} queries; "
            f"{result.flagged:,} flagged, {result.alerts:,} alerts, {result.emails:,} emails queued)\n"
            f"  figures written to {out}"
        )

    def _timed(self):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = sweep_sla()
            elapsed = time.perf_counter() - started
        return elapsed, len(queries), result

    def _fixtures(self):
        owner, _ = User.objects.get_or_create(
            username="bench-owner", defaults={"email": "bench-owner@example.com"}
        )
        project, _ = Project.objects.get_or_create(key=BENCH_KEY, defaults={"name": "Benchmark"})
        Membership.objects.get_or_create(
            project=project, user=owner, defaults={"role": Role.DEVELOPER}
        )
        return project, owner

    def _seed(self, project, owner, count: int) -> None:
        have = Issue.objects.filter(project=project).count()
        if have >= count:
            return
        self.stdout.write(f"Seeding {count - have:,} issues with checkpoints (set-based SQL)…")
        now = timezone.now()
        # Every concrete column gets a value: explicit ones below, the model default otherwise,
        # so the seed keeps working when other apps add columns to Issue.
        explicit = {
            "id": None,
            "project_id": ("%s", [project.pk]),
            "number": ("%s + g", [have]),
            "title": ("'Benchmark issue ' || g", []),
            "status": ("'assigned'", []),
            "reporter_id": ("%s", [owner.pk]),
            "owner_id": ("%s", [owner.pk]),
            "created_at": ("%s", [now]),
            "updated_at": ("%s", [now]),
            "resolution_due_at": (
                "%s::timestamptz + (g %% 1000) * interval '1 hour'",
                [now + timedelta(days=2)],
            ),
            "at_risk_at": (
                "%s::timestamptz + (g %% 1000) * interval '1 hour'",
                [now + timedelta(days=1)],
            ),
            "response_due_at": ("NULL", []),
        }
        columns, exprs, params = [], [], []
        for field in Issue._meta.concrete_fields:
            spec = explicit.get(field.attname, "default")
            if spec is None:
                continue
            if spec == "default":
                value = field.get_default()
                spec = ("%s", [field.get_db_prep_save(value, connection)])
            columns.append(connection.ops.quote_name(field.column))
            exprs.append(spec[0])
            params += spec[1]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Issue._meta.db_table} ({', '.join(columns)}) "  # noqa: S608  # nosec B608
                f"SELECT {', '.join(exprs)} FROM generate_series(1, %s) AS g",
                [*params, count - have],
            )
            cursor.execute(
                f"INSERT INTO {SlaCheckpoint._meta.db_table} "  # noqa: S608  # nosec B608
                "(issue_id, cycle, kind, threshold, label, due_at, flagged_at) "
                "SELECT id, 1, 'warning', 75, %s, at_risk_at, NULL::timestamptz "
                f"FROM {Issue._meta.db_table} WHERE project_id = %s AND number > %s "
                "UNION ALL SELECT id, 1, 'resolution_breach', 0, '', resolution_due_at, NULL::timestamptz "
                f"FROM {Issue._meta.db_table} WHERE project_id = %s AND number > %s",
                ["75 % of the target elapsed", project.pk, have, project.pk, have],
            )
            Project.objects.filter(pk=project.pk).update(last_issue_number=count)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Issue._meta.db_table}")
            cursor.execute(f"ANALYZE {SlaCheckpoint._meta.db_table}")

    def _reset(self, project) -> None:
        """Undo a previous run: no alerts, every checkpoint in the future and unflagged."""
        future = timezone.now() + timedelta(days=1)
        with transaction.atomic():
            Notification.objects.filter(issue__project=project).delete()
            SlaEscalation.objects.filter(checkpoint__issue__project=project).delete()
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {IssueEvent._meta.db_table} WHERE kind = 'sla_flagged' "  # noqa: S608  # nosec B608
                    f"AND issue_id IN (SELECT id FROM {Issue._meta.db_table} WHERE project_id = %s)",
                    [project.pk],
                )
            SlaCheckpoint.objects.filter(issue__project=project, due_at__lte=future).update(
                due_at=future + timedelta(hours=1)
            )
            SlaCheckpoint.objects.filter(issue__project=project, flagged_at__isnull=False).update(
                flagged_at=None
            )

    def _arm(self, project, percent: float) -> int:
        every = max(1, round(100 / percent))
        past = timezone.now() - timedelta(minutes=1)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {SlaCheckpoint._meta.db_table} c SET due_at = %s "  # noqa: S608  # nosec B608
                f"FROM {Issue._meta.db_table} i WHERE c.issue_id = i.id AND i.project_id = %s "
                "AND c.kind = 'warning' AND i.number %% %s = 0",
                [past, project.pk, every],
            )
            return cursor.rowcount

    def _purge(self, app) -> None:
        try:
            with app.connection_for_write() as conn:
                conn.default_channel.queue_purge(BENCH_QUEUE)
        except Exception as exc:  # the figures are what matters
            self.stderr.write(f"Could not purge the bench queue: {exc}")
