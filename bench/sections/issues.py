"""The issues section of `manage.py bench` (see bench.registry)."""

from django.urls import reverse

from bench.management.commands.seed_bench import BENCH_PROJECTS
from bench.registry import BenchContext, register_section
from issues.models import Issue
from projects.models import Project

SEARCH_TEXT = "checkout timeout"


@register_section("issues")
def issues_section(ctx: BenchContext) -> dict[str, dict]:
    project = Project.objects.get(key=BENCH_PROJECTS[0][0])
    showcase = Issue.objects.select_related("project").get(project=project, number=1)
    list_url = reverse("issue_list")
    new_url = reverse("issue_new")
    filtered = (
        f"{list_url}?status=new&status=assigned&status=revise&status=retest&priority=3&sort=due"
    )
    return {
        "list_default": ctx.measure("GET", list_url),
        "list_open_high_by_due": ctx.measure("GET", filtered),
        "search": ctx.measure("GET", f"{list_url}?q={SEARCH_TEXT.replace(' ', '+')}"),
        "detail_50_comments": ctx.measure("GET", showcase.get_absolute_url()),
        "create_issue_form": ctx.measure(
            "POST",
            new_url,
            data=lambda n: {
                "project": project.pk,
                "title": f"Bench issue {n}: export stalls on large files",
                "description": "Filed by the benchmark.",
                "type": "bug",
                "priority": 2,
                "severity": 2,
            },
            expect=302,
        ),
    }
