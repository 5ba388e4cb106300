import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from issues.markdown import render_markdown
from issues.markdown_corpus import PATHOLOGICAL_MARKDOWN, RENDER_BUDGET_SECONDS


class Command(BaseCommand):
    help = (
        "Render the corpus of pathological Markdown (issues.markdown_corpus) and print each "
        "time against the budget; writes var/bench/markdown.json. Exit 1 over budget."
    )

    def handle(self, *args, **options):
        results = {}
        for name, text in PATHOLOGICAL_MARKDOWN.items():
            started = time.process_time()
            render_markdown(text)
            results[name] = {"chars": len(text), "cpu_ms": (time.process_time() - started) * 1000}
        width = max(len(name) for name in results)
        self.stdout.write(f"{'input':<{width}}  {'chars':>7}  {'CPU ms':>8}")
        for name, row in results.items():
            self.stdout.write(f"{name:<{width}}  {row['chars']:>7,}  {row['cpu_ms']:>8.1f}")
        worst_name, worst = max(results.items(), key=lambda item: item[1]["cpu_ms"])
        budget_ms = RENDER_BUDGET_SECONDS * 1000
        within = worst["cpu_ms"] <= budget_ms
        self.stdout.write(
            f"worst: {worst_name} {worst['cpu_ms']:.0f} ms of CPU; budget {budget_ms:.0f} ms "
            f"per text at the limit: {'within' if within else 'OVER'} budget"
        )
        out = settings.VAR_DIR / "bench"
        out.mkdir(parents=True, exist_ok=True)
        (out / "markdown.json").write_text(
            json.dumps({"budget_ms": budget_ms, "worst": worst_name, "inputs": results}, indent=2)
        )
        if not within:
            raise SystemExit(1)
