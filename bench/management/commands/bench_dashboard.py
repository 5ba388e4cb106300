"""Benchmark the dashboard on PostgreSQL: seed N issues with SLA cycles and status stays
(set-based INSERT … SELECT generate_series, seconds not minutes), then time the page.

    manage.py bench_dashboard --issues 100000 --requests 9

Each size gets a project of its own (DASH100K, DASH1M, …; other benches use other keys) and
a Manager who sees only it; seeding is skipped when that project already holds N issues.
The timing is the median and p95 over several requests through Django's test Client as
that Manager, with production settings (DEBUG off, cached templates; the first request
warms caches and is not counted). Results are printed and written to
var/bench/dashboard-<size>.json.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from accounts.models import User
from bench.registry import production_like_settings
from issues.models import Issue
from projects.models import Membership, Project, Role, Team
from workflows.services import current_policy

BENCH_KEY = "DASH"


def size_label(issues: int) -> str:
    """100000 -> "100K", 1000000 -> "1M" (part of the project key and the file name)."""
    if issues % 1_000_000 == 0:
        return f"{issues // 1_000_000}M"
    if issues % 1_000 == 0:
        return f"{issues // 1_000}K"
    return str(issues)


DEVELOPERS = 40

# One statement per table; %(…)s are bound parameters. Issues spread over the last year:
# 70 % closed, 10 % fixed, 20 % open; every fifth finished cycle missed its target; one
# issue in ten was reopened (a second, finished cycle).
ISSUES_SQL = """
INSERT INTO issues_issue (
    project_id, number, title, description, type, priority, severity, status, reporter_id,
    owner_id, team_id, environment, affected_version_id, created_at, updated_at, version,
    resolution, resolution_summary, root_cause, lessons_learned, sla_cycle, sla_paused_at,
    response_due_at, resolution_due_at, at_risk_at
)
SELECT
    %(project)s, %(offset)s + g, 'Bench issue ' || (%(offset)s + g), '',
    (ARRAY['bug','performance','ui_ux','compatibility','compliance','seo','security','task'])[1 + g %% 8],
    1 + g %% 3, 1 + (g / 3) %% 4,
    CASE WHEN g %% 10 < 7 THEN 'closed' WHEN g %% 10 = 7 THEN 'fixed'
         ELSE (ARRAY['new','assigned','revise','retest'])[1 + (g / 10) %% 4] END,
    %(reporter)s,
    CASE WHEN g %% 10 = 8 AND (g / 10) %% 4 = 0 THEN NULL
         ELSE (%(developers)s::bigint[])[1 + g %% %(n_developers)s] END,
    %(team)s, '', NULL, c.created, c.created + interval '3 days', 1,
    CASE WHEN g %% 10 < 7 THEN 'fixed' ELSE '' END,
    CASE WHEN g %% 10 < 7 THEN 'Fixed in the bench' ELSE '' END,
    CASE WHEN g %% 10 < 7 THEN
        (ARRAY['code','design','configuration','environment','third_party','data'])[1 + g %% 6]
        ELSE '' END,
    CASE WHEN g %% 10 < 7 AND g %% 3 = 0 THEN 'Lesson number ' || g ELSE '' END,
    CASE WHEN g %% 10 = 0 THEN 2 ELSE 1 END,
    CASE WHEN g %% 10 = 9 AND g %% 7 = 0 THEN now() ELSE NULL END,
    c.created + interval '4 hours',
    now() + ((g %% 97) - 30) * interval '1 hour',
    now() + ((g %% 97) - 40) * interval '1 hour'
FROM generate_series(1, %(count)s) AS g,
LATERAL (SELECT now() - (g %% 365) * interval '1 day' - (g %% 1440) * interval '1 minute'
         AS created) AS c
"""

CYCLES_SQL = """
INSERT INTO workflows_slacycle (
    issue_id, project_id, number, policy_id, business_hours, response_target_seconds, resolution_target_seconds,
    started_at, responded_at, response_due_at, resolution_due_at, stopped_at, outcome,
    response_outcome, working_seconds, waiting_seconds, response_seconds
)
SELECT i.id, i.project_id, n, %(policy)s, true,
    CASE WHEN n = 1 THEN 14400 END, 144000,
    i.created_at + (n - 1) * interval '5 days',
    CASE WHEN i.status <> 'new' OR n = 2 THEN i.created_at + (n - 1) * interval '5 days'
         + (i.number %% 300) * interval '1 minute' END,
    i.created_at + interval '4 hours', i.created_at + interval '5 days',
    CASE WHEN i.status IN ('closed', 'fixed') OR n < i.sla_cycle
         THEN i.created_at + (n - 1) * interval '5 days' + (1 + i.number %% 72) * interval '1 hour'
    END,
    CASE WHEN i.status IN ('closed', 'fixed') OR n < i.sla_cycle
         THEN CASE WHEN i.number %% 5 = 0 THEN 'missed' ELSE 'met' END ELSE '' END,
    CASE WHEN n = 1 AND i.status <> 'new'
         THEN CASE WHEN i.number %% 7 = 0 THEN 'missed' ELSE 'met' END ELSE '' END,
    CASE WHEN i.status IN ('closed', 'fixed') OR n < i.sla_cycle
         THEN 3600 * (1 + i.number %% 40) END,
    CASE WHEN i.status IN ('closed', 'fixed') OR n < i.sla_cycle THEN 600 * (i.number %% 12) END,
    CASE WHEN n = 1 AND i.status <> 'new' THEN 60 * (i.number %% 300) END
FROM issues_issue i CROSS JOIN generate_series(1, 2) AS n
WHERE i.project_id = %(project)s AND i.number > %(offset)s AND n <= i.sla_cycle
"""

# Stays: New, Assigned, Revise, Retest, Fixed, Closed, as far as the issue got, per cycle.
PERIODS_SQL = """
INSERT INTO workflows_statusperiod (issue_id, project_id, cycle, status, entered_at, left_at)
SELECT i.id, i.project_id, n, s.status,
    i.created_at + (n - 1) * interval '5 days' + s.k * (1 + i.number %% 9) * interval '1 hour',
    CASE WHEN s.k < s.last THEN
        i.created_at + (n - 1) * interval '5 days' + (s.k + 1) * (1 + i.number %% 9) * interval '1 hour'
    END
FROM issues_issue i
CROSS JOIN generate_series(1, 2) AS n
CROSS JOIN LATERAL (
    SELECT k, (ARRAY['new','assigned','revise','retest','fixed','closed'])[k + 1] AS status,
        CASE WHEN n < i.sla_cycle THEN 5
             ELSE array_position(ARRAY['new','assigned','revise','retest','fixed','closed'],
                                 i.status::text) - 1 END AS last
    FROM generate_series(CASE WHEN n = 1 THEN 0 ELSE 1 END, 5) AS k
) AS s
WHERE i.project_id = %(project)s AND i.number > %(offset)s AND n <= i.sla_cycle AND s.k <= s.last
"""


class Command(BaseCommand):
    help = "Seed N issues on PostgreSQL (if not there yet) and time the dashboard page."

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=100_000)
        parser.add_argument("--requests", type=int, default=9)
        parser.add_argument("--path", default="/dashboard/")
        parser.add_argument("--output", default=str(Path(settings.VAR_DIR) / "bench"))

    def handle(self, *args, issues: int, requests: int, path: str, output: str, **options):
        if not settings.IS_POSTGRES:
            raise CommandError("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://…")
        key = f"{BENCH_KEY}{size_label(issues)}"[:10]
        seeded = self._seed(issues, key)
        manager = User.objects.get(username=f"bench-manager-{key.lower()}")
        client = Client()
        client.force_login(manager)
        secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
        with override_settings(**production_like_settings()):
            response = client.get(path, secure=secure)  # warm-up
            if response.status_code != 200:
                raise CommandError(f"{path} answered {response.status_code}")
            timings = []
            with CaptureQueriesContext(connection) as queries:
                for _ in range(requests):
                    started = time.perf_counter()
                    client.get(path, secure=secure)
                    timings.append((time.perf_counter() - started) * 1000)
        ordered = sorted(timings)
        result = {
            "path": path,
            "project": key,
            "issues": Issue.objects.filter(project__key=key).count(),
            "requests": requests,
            "median_ms": round(statistics.median(timings), 1),
            "p95_ms": round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 1),
            "min_ms": round(min(timings), 1),
            "max_ms": round(max(timings), 1),
            "queries_per_request": len(queries) // max(requests, 1),
            "seed_seconds": seeded,
        }
        folder = Path(output)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"dashboard-{size_label(issues).lower()}.json").write_text(
            json.dumps(result, indent=2) + "\n"
        )
        self.stdout.write(json.dumps(result, indent=2))

    def _seed(self, wanted: int, key: str) -> float | None:
        """Top the project `key` up to `wanted` issues; seconds spent (None: nothing to do)."""
        started = time.perf_counter()
        with transaction.atomic():
            project, _ = Project.objects.get_or_create(
                key=key, defaults={"name": f"Dashboard bench {size_label(wanted)}"}
            )
            team, _ = Team.objects.get_or_create(name="Bench team")
            manager, _ = User.objects.get_or_create(username=f"bench-manager-{key.lower()}")
            Membership.objects.get_or_create(
                project=project, user=manager, defaults={"role": Role.MANAGER}
            )
            developers = []
            for n in range(DEVELOPERS):
                dev, _ = User.objects.get_or_create(
                    username=f"bench-dev{n}", defaults={"display_name": f"Bench Dev {n}"}
                )
                Membership.objects.get_or_create(
                    project=project, user=dev, defaults={"role": Role.DEVELOPER}
                )
                developers.append(dev.pk)
            policy = current_policy(project)
            have = project.issues.count()
            if have >= wanted:
                return None
            params = {
                "project": project.pk,
                "offset": have,
                "count": wanted - have,
                "reporter": manager.pk,
                "developers": developers,
                "n_developers": len(developers),
                "team": team.pk,
                "policy": policy.pk,
            }
            self.stdout.write(f"Seeding {wanted - have} issues into {key}…")
            with connection.cursor() as cursor:
                cursor.execute(ISSUES_SQL, params)
                cursor.execute(CYCLES_SQL, params)
                cursor.execute(PERIODS_SQL, params)
            Project.objects.filter(pk=project.pk).update(last_issue_number=wanted)
        with connection.cursor() as cursor:
            for table in ("issues_issue", "workflows_slacycle", "workflows_statusperiod"):
                # VACUUM too, as autovacuum would soon after a bulk load (visibility map).
                cursor.execute(f"VACUUM ANALYZE {table}")  # noqa: S608  # nosec
        return round(time.perf_counter() - started, 1)
