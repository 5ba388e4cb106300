"""Benchmark the pages the way users get them: through gunicorn, on a database of their own.

Steps:
1. create (or reuse) the bench database `<DATABASE_URL's name>_served_<size>` on the same
   server, migrate it and seed it (`seed_bench`: 100,000 issues, 5 projects, ~200 members,
   comments, SLA states; then an SLA cycle and the status stays of every issue);
2. collect the static files and start gunicorn with the shipped gunicorn.conf.py and
   production settings (DEBUG off, HTTPS on) on a free local port; the client plays the
   TLS-terminating proxy (`BEHIND_PROXY=true`, `X-Forwarded-Proto: https`), so nothing of the
   HTTPS-only behaviour is switched off;
3. log in through the login form as the bench user (a Manager of every bench project);
4. per page: run it once in this process with every statement captured
   (`connection.execute_wrapper`), then time it with a sequential keep-alive HTTP client
   (warm-up, then --requests requests: p50, p95, response size), and replay the captured
   statements raw with psycopg (p50 of each over repeated runs, summed: the page's SQL floor);
5. throughput of the list and the issue page with `wrk` (8 connections, 10 s), with the
   non-2xx count and the CPU time gunicorn and its PostgreSQL backends spent per request;
6. print the table and write var/bench/served.json.

    manage.py bench_served                      # 100,000 issues
    manage.py bench_served --issues 5000 --requests 20 --throughput-seconds 3   # quick
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import signal
import subprocess  # nosec B404 - only to stop gunicorn (bench/served starts it)
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from accounts.models import User
from bench.management.commands.seed_bench import BENCH_PROJECTS, BENCH_USER, RARE_WORD
from bench.processes import free_port, git_commit
from bench.served.client import HttpSession
from bench.served.gunicorn import GunicornServing
from bench.served.seeding import CUSTOM_VALUES_SQL, CYCLES_SQL, PERIODS_SQL, _bench_custom_fields
from bench.served.timing import Page, PageTiming
from customfields.models import CustomFieldOption
from issues.models import Comment, Issue, Status
from projects.models import Project

# Sort options of the list (issues.filters.SORTS), each timed as the filtered list sorted by it.
SORT_KEYS = ["key", "priority", "severity", "status", "owner", "due", "updated", "created"]
FILTERED = {"status": ["new", "assigned"], "priority": "3"}
COMMON_WORD = "checkout"
# A word no bench issue holds (the empty board).
NO_MATCH_WORD = "zyxwvutsr"
THROUGHPUT_PAGES = ("list_default", "issue_50_comments", "board_project")
# The targets of issue 16 (p50 ms, p95 ms, page / SQL), printed beside the figures.
TARGETS: dict[str, tuple[float | None, float | None, float | None]] = {
    "list_default": (20, 30, 3),
    "list_filtered_sorted": (20, 30, 3),
    "issue_50_comments": (20, 30, 3),
    "create_issue": (15, 25, None),
    "search_common": (30, 45, 3),
    "triage": (60, 100, 3),
    "sla_dashboard": (60, 100, 3),
}
for _key in SORT_KEYS:
    TARGETS[f"list_sorted_{_key}"] = (20, 30, 3)
# The list filtered on a custom field (issue 19) has the list's target.
TARGETS["list_custom_choice"] = (20, 30, 3)
TARGETS["list_custom_number_range"] = (20, 30, 3)
# The board (issue 15): p50 25 ms, 3x its SQL; >= 100 views/s at c=8 (wrk).
TARGETS["board_project"] = (25, None, 3)
TARGETS["board_all_projects"] = (25, None, 3)


class Command(PageTiming, GunicornServing, BaseCommand):
    help = "Time every page through gunicorn against its own SQL (PostgreSQL). Writes var/bench/served.json."

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=100_000, help="Bench issues to seed.")
        parser.add_argument("--requests", type=int, default=50, help="Timed requests per page.")
        parser.add_argument("--warmup", type=int, default=5, help="Untimed requests first.")
        parser.add_argument("--replays", type=int, default=15, help="Raw SQL replays per page.")
        parser.add_argument("--throughput-seconds", type=int, default=10)
        parser.add_argument("--connections", type=int, default=8, help="wrk's clients.")
        parser.add_argument(
            "--database", default="", help="Bench database name (default <name>_served_<N>)."
        )
        parser.add_argument(
            "--fresh", action="store_true", help="Drop and recreate the bench database first."
        )
        parser.add_argument(
            "--only", action="append", default=[], help="Only pages whose name has this."
        )
        parser.add_argument(
            "--profile",
            default="",
            help="Folder: serve through tracker.profiling (pyinstrument, 1 worker x 1 thread) "
            "and write one profile per page there. Times are then not comparable.",
        )
        parser.add_argument(
            "--against",
            default="",
            help="Another checkout (e.g. `git worktree add /tmp/base main`): serve it too, on "
            "the same database, and time each page on both, request for request interleaved, "
            "so that both see the same machine load. Its pages must match (same URLs).",
        )
        parser.add_argument("--output", default=str(Path(settings.VAR_DIR) / "bench"))

    # --- orchestration -------------------------------------------------------------------

    def handle(self, *args, **opts):
        if not settings.IS_POSTGRES:
            raise CommandError("bench_served measures PostgreSQL: set DATABASE_URL=postgres://…")
        self.opts = opts
        name = (
            opts["database"] or f"{settings.DATABASES['default']['NAME']}_served_{opts['issues']}"
        )
        self._use_database(name, fresh=opts["fresh"])
        seed_seconds = self._seed(opts["issues"])
        self.stdout.write("Collecting static files …")
        call_command("collectstatic", interactive=False, verbosity=0)
        password = secrets.token_urlsafe(16)
        user = User.objects.get(username=BENCH_USER)
        user.set_password(password)
        user.save(update_fields=["password"])
        pages = self._pages()
        if opts["only"]:
            pages = [p for p in pages if any(o in p.name for o in opts["only"])]
        port = free_port()
        server = self._start_gunicorn(port, name)
        other = None
        if opts["against"]:
            # Writes would race for the same New issues: compare the reads and create/comment.
            pages = [p for p in pages if p.name != "transition_assign"]
            other_port = free_port()
            other = self._start_gunicorn(other_port, name, cwd=Path(opts["against"]).resolve())
        throughput: dict[str, dict] = {}
        try:
            self._wait_ready(port, server)
            http_client = HttpSession(port)
            self._login(http_client, password)
            other_client = None
            if other is not None:
                self._wait_ready(other_port, other)
                other_client = HttpSession(other_port)
                self._login(other_client, password)
            client = Client()
            client.cookies["sessionid"] = http_client.cookies["sessionid"]
            for page in pages:
                self.stdout.write(f"  {page.name} …", ending="")
                self.stdout.flush()
                statements = self._capture(client, page)
                if other_client is not None:
                    page.result = self._time(http_client, page, server, other=other_client)
                else:
                    page.result = self._time(http_client, page, server)
                page.result["queries"] = len(statements)
                if page.floor:
                    page.result["sql_floor_ms"] = self._replay(statements)
                    page.result["page_over_sql"] = (
                        round(page.result["p50_ms"] / page.result["sql_floor_ms"], 1)
                        if page.result["sql_floor_ms"]
                        else None
                    )
                self.stdout.write(f" p50 {page.result['p50_ms']} ms")
            if not opts["profile"]:
                by_name = {p.name: p for p in pages}
                for name_ in THROUGHPUT_PAGES:
                    if name_ in by_name:
                        throughput[name_] = self._wrk(port, server, http_client, by_name[name_])
                        if other is not None and other_client is not None:
                            throughput[f"{name_}_against"] = self._wrk(
                                other_port, other, other_client, by_name[name_]
                            )
        finally:
            for process in (server, other):
                if process is None:
                    continue
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        self._report(pages, throughput, name, seed_seconds)

    def _use_database(self, name: str, *, fresh: bool) -> None:
        """Create the bench database on DATABASE_URL's server (via its `postgres` database)
        and point this process's connection at it."""
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise CommandError(f"Unsuitable database name {name!r} (letters, digits, _).")
        base = dict(settings.DATABASES["default"])
        params = {
            "host": base.get("HOST") or None,
            "port": base.get("PORT") or None,
            "user": base.get("USER") or None,
            "password": base.get("PASSWORD") or None,
        }
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if exists and fresh:
                self.stdout.write(f"Dropping database {name} …")
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # nosec B608
                exists = None
            if not exists:
                self.stdout.write(f"Creating database {name} …")
                admin.execute(f'CREATE DATABASE "{name}"')  # nosec B608
        connections.close_all()
        settings.DATABASES["default"]["NAME"] = name
        connection.settings_dict["NAME"] = name
        self.db_params = {**params, "dbname": name}
        call_command("migrate", interactive=False, verbosity=0)

    def _seed(self, issues: int) -> float:
        started = time.perf_counter()
        call_command("seed_bench", issues=issues, stdout=self.stdout)
        project_ids = list(
            Project.objects.filter(key__in=[k for k, _ in BENCH_PROJECTS]).values_list(
                "pk", flat=True
            )
        )
        # Every bench project gets its SLA policy (created on first use) before the cycles.
        from workflows.services import current_policy

        for project in Project.objects.filter(pk__in=project_ids):
            current_policy(project)
        for project in Project.objects.filter(pk__in=project_ids):
            _bench_custom_fields(project)
        with connection.cursor() as cursor:
            cursor.execute(CYCLES_SQL, {"projects": project_ids})
            cursor.execute(PERIODS_SQL, {"projects": project_ids})
            for statement in CUSTOM_VALUES_SQL.strip().split(";\n"):
                cursor.execute(statement, {"projects": project_ids})
            # As autovacuum would have by now: earlier runs' writes (and new indexes) leave
            # the visibility map stale, and index-only scans then visit the table.
            for table in (
                "issues_issue",
                "workflows_slacycle",
                "workflows_statusperiod",
                "customfields_customfieldvalue",
            ):
                cursor.execute(f"VACUUM ANALYZE {table}")  # nosec B608
        return round(time.perf_counter() - started, 1)

    # --- the pages ---------------------------------------------------------------------

    def _pages(self) -> list[Page]:
        project = Project.objects.get(key=BENCH_PROJECTS[0][0])
        showcase = Issue.objects.select_related("project").get(project=project, number=1)
        # Comments of the benchmark go to another issue: the showcase keeps its 50.
        commented = Issue.objects.select_related("project").get(project=project, number=2)
        quiet = (
            Issue.objects.select_related("project")
            .filter(project=project, archived_at=None)
            .exclude(pk__in=Comment.objects.values("issue_id"))
            .order_by("-number")
            .first()
        )
        developer = (
            User.objects.filter(memberships__project=project, memberships__role="developer")
            .order_by("username")
            .first()
        )
        runs = self.opts["requests"] + self.opts["warmup"] + 2
        new_issues = list(
            Issue.objects.select_related("project")
            .filter(project=project, status=Status.NEW, archived_at=None)
            .order_by("number")[: runs + 5]
        )
        list_url = reverse("issue_list")
        filtered = urlencode(FILTERED, doseq=True)
        pages = [
            Page("list_default", "GET", list_url),
            Page("list_default_25_rows", "GET", f"{list_url}?per_page=25"),
            Page("list_default_100_rows", "GET", f"{list_url}?per_page=100"),
            Page("list_filtered_sorted", "GET", f"{list_url}?{filtered}&sort=priority"),
        ]
        for key in SORT_KEYS:
            pages.append(Page(f"list_sorted_{key}", "GET", f"{list_url}?{filtered}&sort={key}"))
        # Production in every bench project (one slug, a choice id per project).
        production = list(
            CustomFieldOption.objects.filter(
                field__slug="env", field__project__key__in=[k for k, _ in BENCH_PROJECTS]
            )
            .filter(label="Production")
            .values_list("pk", flat=True)
        )
        custom = urlencode({"cf_env": production, "columns": "env,affected_customers"}, doseq=True)
        pages += [
            Page("list_custom_choice", "GET", f"{list_url}?{custom}", note="cf_env=Production"),
            Page(
                "list_custom_number_range",
                "GET",
                f"{list_url}?cf_affected_customers_min=900&cf_affected_customers_max=950",
                note="900-950",
            ),
            Page("list_sorted_due_desc", "GET", f"{list_url}?{filtered}&sort=-due"),
            Page("search_common", "GET", f"{list_url}?q={COMMON_WORD}", note=COMMON_WORD),
            Page("search_rare", "GET", f"{list_url}?q={RARE_WORD}", note=RARE_WORD),
            Page("issue_50_comments", "GET", showcase.get_absolute_url()),
        ]
        if quiet is not None:
            pages.append(Page("issue_0_comments", "GET", quiet.get_absolute_url()))
        pages += [
            Page(
                "create_issue",
                "POST",
                reverse("issue_new"),
                data=lambda n: {
                    "project": project.pk,
                    "title": f"Bench issue {n}: export stalls on large files",
                    "description": "Filed by the served benchmark.",
                    "type": "bug",
                    "priority": 2,
                    "severity": 2,
                },
                expect=302,
                floor=False,
                note="POST answering the redirect",
            ),
            Page(
                "comment",
                "POST",
                reverse("issue_comment", args=[commented.key]),
                data=lambda n: {"body": f"Bench comment {n}: still happens for me."},
                expect=302,
                floor=False,
            ),
        ]
        if developer is not None and len(new_issues) > runs:
            # Each run assigns another New issue (New → Assigned).
            pages.append(
                Page(
                    "transition_assign",
                    "POST",
                    lambda n: reverse("issue_transition", args=[new_issues[n + 1].key, "assigned"]),
                    data={"assign-owner": developer.pk, "assign-expected_status": "new"},
                    expect=302,
                    floor=False,
                )
            )
        pages += [
            Page("triage", "GET", reverse("triage")),
            Page("sla_dashboard", "GET", reverse("reports:dashboard")),
            Page("inbox", "GET", reverse("notification_inbox")),
            # The board of the biggest bench project, and across all five (bench.sections.boards);
            # the same board filtered to nothing is its fixed cost (middleware, session,
            # filter bar, base template): board minus empty = what the cards cost.
            Page("board_project", "GET", reverse("project_board", args=[project.key])),
            Page("board_all_projects", "GET", reverse("board")),
            Page(
                "board_empty",
                "GET",
                f"{reverse('project_board', args=[project.key])}?q={NO_MATCH_WORD}",
                note="the project board filtered to nothing: the board's fixed cost",
            ),
        ]
        return pages

    # --- output --------------------------------------------------------------------------

    def _report(self, pages: list[Page], throughput: dict, database: str, seed_seconds) -> None:
        load = os.getloadavg()
        self.stdout.write(
            self.style.MIGRATE_HEADING("\nServed pages (gunicorn, sequential client)")
        )
        head = (
            f"  {'page':<24} {'p50 ms':>7} {'p95 ms':>7} {'SQL ms':>7} {'÷ SQL':>6} "
            f"{'queries':>7} {'KiB':>6} {'app CPU':>7} {'pg CPU':>6}   target p50/p95/ratio"
        )
        self.stdout.write(head)
        for page in pages:
            r = page.result
            target = TARGETS.get(page.name)
            target_text = (
                " / ".join("—" if t is None else f"{t:g}" for t in target) if target else ""
            )
            self.stdout.write(
                f"  {page.name:<24} {r['p50_ms']:>7} {r['p95_ms']:>7} "
                f"{r.get('sql_floor_ms', '—'):>7} {r.get('page_over_sql') or '—':>6} "
                f"{r['queries']:>7} {r['bytes'] / 1024:>6.1f} {r['gunicorn_cpu_ms']:>7} "
                f"{r['postgres_cpu_ms']:>6}   {target_text}"
            )
        if self.opts["against"]:
            self.stdout.write(f"\n  interleaved with {self.opts['against']} (same load):")
            for page in pages:
                r = page.result
                if "against_p50_ms" in r:
                    self.stdout.write(
                        f"  {page.name:<24} this {r['p50_ms']:>7} ms   against "
                        f"{r['against_p50_ms']:>7} ms   against ÷ this {r['against_over_this']:>5}"
                    )
        for name, t in throughput.items():
            self.stdout.write(
                f"  throughput {name}: {t['views_per_second']} views/s at c={t['connections']}, "
                f"{t['non_2xx']} non-2xx"
            )
        payload = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "database": database,
            "issues": self.opts["issues"],
            "seed_seconds": seed_seconds,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_at_end": [round(x, 2) for x in load],
            "server": "gunicorn (gunicorn.conf.py), DEBUG off, HTTPS settings on behind the "
            "client as TLS proxy",
            "profiled": bool(self.opts["profile"]),
            "pages": {p.name: p.result for p in pages},
            "throughput": throughput,
        }
        folder = Path(self.opts["output"])
        folder.mkdir(parents=True, exist_ok=True)
        name = "served-profiled.json" if self.opts["profile"] else "served.json"
        (folder / name).write_text(json.dumps(payload, indent=2) + "\n")
        self.stdout.write(f"wrote {folder / name} (load average {load[0]:.2f})")
