"""The board section of `manage.py bench` (see bench.registry): the project board at the
bench's issue count, the board across projects, a filtered board with swimlanes and an
unchanged poll (304); the EXPLAIN ANALYZE of the board's two big statements goes to
var/bench/board-explain.txt."""

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bench.management.commands.seed_bench import BENCH_PROJECTS
from bench.registry import BenchContext, register_section
from issues.models import Issue

HX = {"HX-Request": "true"}


def _explain(client: Client, url: str) -> str:
    with CaptureQueriesContext(connection) as queries:
        client.get(url, secure=True)
    plans = []
    for q in queries.captured_queries:
        sql = q["sql"]
        if "COUNT(*) FROM (SELECT" in sql or "UNION ALL" in sql:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)  # nosec B608 - our own SQL
                plan = "\n".join(row[0] for row in cursor.fetchall())
            plans.append(f"-- {url}\n{sql}\n\n{plan}\n")
    return "\n".join(plans)


@register_section("board")
def board_section(ctx: BenchContext) -> dict[str, dict]:
    key = BENCH_PROJECTS[0][0]
    url = reverse("project_board", args=[key])
    all_url = reverse("board")
    filtered = f"{url}?priority=3&lanes=owner"
    explain = _explain(ctx.client, url)
    out = settings.VAR_DIR / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "board-explain.txt").write_text(explain)
    issues = Issue.objects.filter(project__key=key).count()
    results = {
        f"board_project ({issues} issues)": ctx.measure("GET", url),
        "board_all_projects": ctx.measure("GET", all_url),
        "board_high_by_owner_lanes": ctx.measure("GET", filtered),
    }
    # The validator changes every 5 minutes (SLA badges): take it right before polling.
    poller = Client(headers=HX)
    poller.force_login(ctx.user)
    etag = poller.get(url, secure=True)["ETag"]
    poll = BenchContext(client=Client(headers={**HX, "If-None-Match": etag}), user=ctx.user)
    poll.client.force_login(ctx.user)
    poll.requests = ctx.requests
    results["board_poll_unchanged_304"] = poll.measure("GET", url, expect=304)
    return results
