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

import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess  # nosec B404 - gunicorn, wrk and git, never with user input
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
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
from customfields.models import CustomField, CustomFieldOption, FieldKind
from customfields.services import create_custom_field
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

# Custom fields of the bench projects (customfields): each project has an "Environment"
# single choice (slug env) and an "Affected customers" number; values on nine issues in ten
# (env: 40 % Production, 30 % Staging, 20 % Local), set-based like the cycles below.
CUSTOM_VALUES_SQL = """
INSERT INTO customfields_customfieldvalue (issue_id, field_id, text, option_id)
SELECT i.id, f.id, '', o.id
FROM issues_issue i
JOIN customfields_customfield f ON f.project_id = i.project_id AND f.slug = 'env'
JOIN customfields_customfieldoption o ON o.field_id = f.id AND o.label =
    CASE WHEN i.id %% 10 < 4 THEN 'Production' WHEN i.id %% 10 < 7 THEN 'Staging'
         ELSE 'Local' END
WHERE i.project_id = ANY(%(projects)s) AND i.id %% 10 <> 9
  AND NOT EXISTS (SELECT 1 FROM customfields_customfieldvalue v WHERE v.field_id = f.id);
INSERT INTO customfields_customfieldvalue (issue_id, field_id, text, number)
SELECT i.id, f.id, '', (i.id * 7919) %% 1000
FROM issues_issue i
JOIN customfields_customfield f ON f.project_id = i.project_id
    AND f.slug = 'affected_customers'
WHERE i.project_id = ANY(%(projects)s) AND i.id %% 10 <> 9
  AND NOT EXISTS (SELECT 1 FROM customfields_customfieldvalue v WHERE v.field_id = f.id);
"""

# Cycles and stays for the seeded issues (the dashboard, the triage queue and the SLA box
# read them): one cycle per issue, finished for fixed/closed ones, and the stays up to the
# issue's status. Set-based, seconds for 100,000 issues.
CYCLES_SQL = """
INSERT INTO workflows_slacycle (
    issue_id, project_id, number, policy_id, business_hours, response_target_seconds,
    resolution_target_seconds,
    started_at, responded_at, response_due_at, resolution_due_at, stopped_at, outcome,
    response_outcome, working_seconds, waiting_seconds, response_seconds
)
SELECT i.id, i.project_id, 1, pol.id, i.severity < 4, 14400, 144000, i.created_at,
    CASE WHEN i.status <> 'new' THEN i.created_at + (i.id %% 300) * interval '1 minute' END,
    i.created_at + interval '4 hours',
    coalesce(i.resolution_due_at, i.created_at + interval '5 days'),
    CASE WHEN i.status IN ('closed', 'fixed')
         THEN i.created_at + (1 + i.id %% 150) * interval '1 hour' END,
    CASE WHEN i.status IN ('closed', 'fixed')
         THEN CASE WHEN i.id %% 5 = 0 THEN 'missed' ELSE 'met' END ELSE '' END,
    CASE WHEN i.status <> 'new' THEN CASE WHEN i.id %% 7 = 0 THEN 'missed' ELSE 'met' END
         ELSE '' END,
    CASE WHEN i.status IN ('closed', 'fixed') THEN 3600 * (1 + i.id %% 40) END,
    CASE WHEN i.status IN ('closed', 'fixed') THEN 600 * (i.id %% 12) END,
    CASE WHEN i.status <> 'new' THEN 60 * (i.id %% 300) END
FROM issues_issue i
JOIN LATERAL (SELECT id FROM workflows_slapolicy p WHERE p.project_id = i.project_id
              ORDER BY version DESC LIMIT 1) AS pol ON true
WHERE i.project_id = ANY(%(projects)s)
  AND NOT EXISTS (SELECT 1 FROM workflows_slacycle c WHERE c.issue_id = i.id)
"""
PERIODS_SQL = """
INSERT INTO workflows_statusperiod (issue_id, project_id, cycle, status, entered_at, left_at)
SELECT i.id, i.project_id, 1, s.status,
    i.created_at + s.k * (1 + i.id %% 9) * interval '1 hour',
    CASE WHEN s.k < s.last THEN i.created_at + (s.k + 1) * (1 + i.id %% 9) * interval '1 hour' END
FROM issues_issue i
CROSS JOIN LATERAL (
    SELECT k, (ARRAY['new','assigned','revise','retest','fixed','closed'])[k + 1] AS status,
        array_position(ARRAY['new','assigned','revise','retest','fixed','closed'],
                       i.status::text) - 1 AS last
    FROM generate_series(0, 5) AS k
) AS s
WHERE i.project_id = ANY(%(projects)s) AND s.k <= s.last
  AND NOT EXISTS (SELECT 1 FROM workflows_statusperiod p WHERE p.issue_id = i.id)
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (Linux /proc), 0 for ones that are gone."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    return {pid: _cpu_seconds([pid]) for pid in pids}


def _cpu_delta(before: dict[int, float], pids: list[int]) -> float:
    """CPU seconds spent since `before` by these processes: processes that were there both
    times by their difference, new ones in full (PostgreSQL backends come and go)."""
    return sum(max(0.0, _cpu_seconds([pid]) - before.get(pid, 0.0)) for pid in pids)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _git_commit() -> str:
    try:
        out = subprocess.run(  # noqa: S603  # nosec B603 B607
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
            cwd=settings.BASE_DIR,
        )
        return out.stdout.strip()
    except OSError:
        return ""


class HttpSession:
    """A sequential keep-alive HTTP/1.1 client with a cookie jar, sending what a browser
    behind a TLS-terminating proxy would (X-Forwarded-Proto: https)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(
        self, method: str, path: str, data: dict | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        headers = {
            "Host": "127.0.0.1",
            "X-Forwarded-Proto": "https",
            "User-Agent": "resolve-bench",
            "Accept": "text/html",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"https://127.0.0.1{path}"
            headers["Origin"] = "https://127.0.0.1"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for key, morsel in cookie.items():
                self.cookies[key] = morsel.value
        return response.status, payload, dict(response.headers.items())


@dataclass
class Page:
    name: str
    method: str
    path: str | Any  # a path, or a function of the request number giving one
    data: Any = None  # form data, or a function of the request number giving it
    expect: int = 200
    floor: bool = True  # replay its SQL (reads only)
    note: str = ""
    result: dict = field(default_factory=dict)

    def at(self, n: int) -> tuple[str, dict | None]:
        path = self.path(n) if callable(self.path) else self.path
        data = self.data(n) if callable(self.data) else self.data
        return path, data


def _bench_custom_fields(project: Project) -> None:
    if CustomField.objects.filter(project=project).exists():
        return
    create_custom_field(
        project,
        name="Environment",
        slug="env",
        kind=FieldKind.CHOICE,
        options="Production\nStaging\nLocal",
    )
    create_custom_field(
        project, name="Affected customers", slug="affected_customers", kind=FieldKind.NUMBER
    )


class Command(BaseCommand):
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
        port = _free_port()
        server = self._start_gunicorn(port, name)
        other = None
        if opts["against"]:
            # Writes would race for the same New issues: compare the reads and create/comment.
            pages = [p for p in pages if p.name != "transition_assign"]
            other_port = _free_port()
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

    # --- measuring ---------------------------------------------------------------------

    def _login(self, http_client: HttpSession, password: str) -> None:
        login = reverse("login")
        status, body, _ = http_client.request("GET", login)
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if status != 200 or match is None:
            raise CommandError(f"The login page answered {status} without a CSRF token.")
        status, body, headers = http_client.request(
            "POST",
            login,
            {
                "username": BENCH_USER,
                "password": password,
                "csrfmiddlewaretoken": match.group(1).decode(),
            },
        )
        if status != 302 or "sessionid" not in http_client.cookies:
            raise CommandError(f"Logging in through the form failed ({status}).")

    def _csrf(self, http_client: HttpSession) -> str:
        return http_client.cookies.get("csrftoken", "")

    def _capture(self, client: Client, page: Page) -> list[tuple[str, Any]]:
        """Run the page once in this process and return every statement it ran."""
        statements: list[tuple[str, Any]] = []

        def record(execute, sql, params, many, context):
            statements.append((sql, params))
            return execute(sql, params, many, context)

        path, data = page.at(-1)
        with connection.execute_wrapper(record):
            if page.method == "POST":
                response = client.post(path, data or {}, secure=True)
            else:
                response = client.get(path, secure=True)
        if response.status_code != page.expect:
            raise CommandError(f"{page.name}: {path} answered {response.status_code} in-process.")
        return statements

    def _time(self, http_client: HttpSession, page: Page, server, other=None) -> dict:
        """Sequential requests; besides the client's wall times, the CPU that gunicorn and
        its PostgreSQL backends spent per timed request (telling on a shared machine, where
        wall times include waiting for a core)."""
        warmup, requests = self.opts["warmup"], self.opts["requests"]
        timings: list[float] = []
        other_timings: list[float] = []
        size = 0
        pids: list[int] = []
        cpu_before: tuple[dict[int, float], dict[int, float]] = ({}, {})
        for n in range(warmup + requests):
            if n == warmup:
                pids = [server.pid, *_children(server.pid)]
                cpu_before = (_cpu_by_pid(pids), _cpu_by_pid(self._backends()))
            path, data = page.at(n)
            if data is not None:
                data = {**data, "csrfmiddlewaretoken": self._csrf(http_client)}
            started = time.perf_counter()
            status, body, _ = http_client.request(page.method, path, data)
            elapsed = (time.perf_counter() - started) * 1000
            if status != page.expect:
                raise CommandError(f"{page.name}: {path} answered {status}: {body[:300]!r}")
            if n >= warmup:
                timings.append(elapsed)
                size = len(body)
            if other is not None:
                # The same request to the other checkout, right after: the same load.
                other_path, other_data = page.at(n + 100_000 if page.method == "POST" else n)
                if other_data is not None:
                    other_data = {**other_data, "csrfmiddlewaretoken": self._csrf(other)}
                started = time.perf_counter()
                status, body, _ = other.request(page.method, other_path, other_data)
                if status != page.expect:
                    raise CommandError(f"{page.name} (--against): {other_path} answered {status}")
                if n >= warmup:
                    other_timings.append((time.perf_counter() - started) * 1000)
        gunicorn_cpu = _cpu_delta(cpu_before[0], pids) * 1000 / requests
        postgres_cpu = _cpu_delta(cpu_before[1], self._backends()) * 1000 / requests
        return {
            "path": page.at(0)[0],
            "method": page.method,
            "requests": requests,
            "p50_ms": round(statistics.median(timings), 1),
            "p95_ms": round(percentile(timings, 0.95), 1),
            "bytes": size,
            "gunicorn_cpu_ms": round(gunicorn_cpu, 1),
            "postgres_cpu_ms": round(postgres_cpu, 1),
            **(
                {
                    "against_p50_ms": round(statistics.median(other_timings), 1),
                    "against_p95_ms": round(percentile(other_timings, 0.95), 1),
                    "against_over_this": round(
                        statistics.median(other_timings) / statistics.median(timings), 2
                    ),
                }
                if other_timings
                else {}
            ),
            **({"note": page.note} if page.note else {}),
        }

    def _replay(self, statements: list[tuple[str, Any]]) -> float:
        """The page's SQL floor: each captured statement run raw (psycopg, client-side
        binding as Django does), p50 of --replays runs, summed; in ms."""
        runs: list[list[float]] = [[] for _ in statements]
        with psycopg.connect(
            **self.db_params,
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
            options="-c jit=off",
        ) as raw:
            cursor = raw.cursor()
            for _ in range(self.opts["replays"]):
                for i, (sql, params) in enumerate(statements):
                    started = time.perf_counter()
                    cursor.execute(sql, params)
                    if cursor.description is not None:
                        cursor.fetchall()
                    runs[i].append((time.perf_counter() - started) * 1000)
        return round(sum(statistics.median(r) for r in runs), 2)

    def _wrk(self, port: int, server, http_client: HttpSession, page: Page) -> dict:
        wrk = shutil.which("wrk")
        if wrk is None:
            self.stderr.write("wrk is not installed (apt-get install wrk): no throughput figures.")
            return {}
        path, _ = page.at(0)
        cookie = "; ".join(f"{k}={v}" for k, v in http_client.cookies.items())
        seconds, conns = self.opts["throughput_seconds"], self.opts["connections"]
        pids = [server.pid, *_children(server.pid)]
        cpu_before = (_cpu_by_pid(pids), _cpu_by_pid(self._backends()))
        load_before = os.getloadavg()[0]
        out = subprocess.run(  # noqa: S603  # nosec B603
            [
                wrk,
                "-t2",
                f"-c{conns}",
                f"-d{seconds}s",
                "--latency",
                "-H",
                f"Cookie: {cookie}",
                "-H",
                "X-Forwarded-Proto: https",
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        cpu_used = (_cpu_delta(cpu_before[0], pids), _cpu_delta(cpu_before[1], self._backends()))
        total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        latency = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M))
        result = {
            "path": path,
            "connections": conns,
            "seconds": seconds,
            "requests": total,
            "views_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "latency": latency,
            "gunicorn_cpu_ms_per_request": round(cpu_used[0] * 1000 / total, 2) if total else None,
            "postgres_cpu_ms_per_request": round(cpu_used[1] * 1000 / total, 2) if total else None,
            "load_average_at_start": round(load_before, 2),
        }
        self.stdout.write(
            f"  {page.name}: {result['views_per_second']} views/s at c={conns} "
            f"({result['non_2xx']} non-2xx; gunicorn {result['gunicorn_cpu_ms_per_request']} "
            f"CPU-ms/request, PostgreSQL {result['postgres_cpu_ms_per_request']})"
        )
        return result

    def _backends(self) -> list[int]:
        with psycopg.connect(**self.db_params, autocommit=True) as raw:
            rows = raw.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ).fetchall()
        return [row[0] for row in rows]

    # --- gunicorn ------------------------------------------------------------------------

    def _start_gunicorn(
        self, port: int, database: str, *, cwd: Path | None = None, queue: str = ""
    ) -> subprocess.Popen:
        database_url = self._database_url(database)
        env = {
            **os.environ,
            "DEBUG": "false",
            # HTTPS-only settings stay on; the bench client is the TLS proxy.
            "BEHIND_PROXY": "true",
            "SECRET_KEY": settings.SECRET_KEY,
            "DATABASE_URL": database_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            # Tasks the pages queue go to a queue nobody consumes (no worker is measured),
            # unless the caller runs a worker on the queue it names.
            "CELERY_QUEUE": queue or f"bench-served-{secrets.token_hex(4)}",
        }
        env.pop("HTTPS", None)
        app = "tracker.wsgi:application"
        extra: list[str] = []
        if self.opts["profile"]:
            app = "tracker.profiling:application"
            env["RESOLVE_PROFILE_DIR"] = str(Path(self.opts["profile"]).resolve())
            env["RESOLVE_PROFILE_REQUESTS"] = str(self.opts["requests"])
            extra = ["--workers", "1", "--threads", "1"]
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--config",
            str(Path(settings.BASE_DIR) / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            *extra,
        ]
        if cwd is not None:
            # Another checkout: its own code (the working directory comes first on the path),
            # its own gunicorn.conf.py and static files (collected there first).
            cmd[cmd.index("--config") + 1] = str(cwd / "gunicorn.conf.py")
            env["RESOLVE_VAR_DIR"] = str(cwd / "var")
            subprocess.run(  # noqa: S603  # nosec B603
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                env=env,
                cwd=cwd,
                check=True,
            )
        return subprocess.Popen(cmd, env=env, cwd=cwd or settings.BASE_DIR)  # noqa: S603  # nosec B603

    def _database_url(self, database: str) -> str:
        url = settings.DATABASES["default"]
        auth = url.get("USER") or ""
        if url.get("PASSWORD"):
            auth += f":{url['PASSWORD']}"
        return f"postgres://{auth}@{url.get('HOST') or '127.0.0.1'}:{url.get('PORT') or 5432}/{database}"

    def _wait_ready(self, port: int, server: subprocess.Popen) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError("gunicorn exited during start-up.")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status in (200, 503):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise CommandError("gunicorn did not answer within 60 s.")

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
            "commit": _git_commit(),
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
