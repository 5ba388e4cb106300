"""Benchmark the pages at scale (PostgreSQL): seed if needed, time each page, write JSON.

Steps: check the database is PostgreSQL, top the bench data up (`seed_bench`), import
`bench.sections` (the registry is bench.registry), run the chosen sections as the
bench user, print median/p95/queries and write var/bench/<section>.json.
"""

import json
import platform
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test import Client
from django.test.utils import override_settings

from accounts.models import User
from bench import sections  # noqa: F401  (importing it registers the sections)
from bench.management.commands.seed_bench import BENCH_USER
from bench.processes import git_commit
from bench.registry import SECTIONS, BenchContext, production_like_settings


class Command(BaseCommand):
    help = "Time the main pages at N issues (PostgreSQL). Writes var/bench/<section>.json."

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=100_000, help="Bench issues to seed.")
        parser.add_argument("--requests", type=int, default=30, help="Requests per page.")
        parser.add_argument(
            "--only", action="append", default=[], help="Run only this section (repeatable)."
        )
        parser.add_argument("--no-seed", action="store_true", help="Use the data as it is.")
        parser.add_argument("--output", default="", help="Folder for the JSON (var/bench).")
        parser.add_argument("--list", action="store_true", help="List the sections and stop.")

    def handle(self, *args, **options):
        if options["list"]:
            self.stdout.write("\n".join(sorted(SECTIONS)))
            return
        if not settings.IS_POSTGRES:
            raise CommandError("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://…")
        unknown = set(options["only"]) - set(SECTIONS)
        if unknown:
            raise CommandError(f"Unknown section(s): {', '.join(sorted(unknown))}.")
        if settings.DEBUG:
            self.stderr.write(
                "Started with DEBUG on: some template caches stay off, so pages look slower "
                "than in production. For comparable figures run with DEBUG off "
                "(e.g. DEBUG=false SECRET_KEY=bench make bench)."
            )
        if not options["no_seed"]:
            call_command("seed_bench", issues=options["issues"], stdout=self.stdout)
        user = User.objects.get(username=BENCH_USER)
        client = Client()
        client.force_login(user)
        out_dir = Path(options["output"] or settings.VAR_DIR / "bench")
        out_dir.mkdir(parents=True, exist_ok=True)
        names = options["only"] or sorted(SECTIONS)
        with override_settings(**production_like_settings()):
            for name in names:
                ctx = BenchContext(client=client, user=user, requests=options["requests"])
                results = SECTIONS[name](ctx)
                self._report(name, results)
                payload = {
                    "section": name,
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "commit": git_commit(),
                    "issues": options["issues"],
                    "python": platform.python_version(),
                    "results": results,
                }
                path = out_dir / f"{name}.json"
                path.write_text(json.dumps(payload, indent=2) + "\n")
                self.stdout.write(f"wrote {path}")

    def _report(self, name: str, results: dict[str, dict]) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"\n{name}"))
        self.stdout.write(
            f"  {'page':<26} {'median ms':>10} {'p95 ms':>8} {'app CPU ms':>11} {'queries':>8}"
        )
        for page, r in results.items():
            self.stdout.write(
                f"  {page:<26} {r['median_ms']:>10} {r['p95_ms']:>8}"
                f" {r.get('app_cpu_median_ms', ''):>11} {r['queries']:>8}"
            )
