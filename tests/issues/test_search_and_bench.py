"""PostgreSQL full-text search, seeding and the bench command."""

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from issues.models import Comment, Issue, IssueEvent
from issues.services import add_comment
from tests.factories import make_issue
from workflows.issue_use_cases import update_issue

pytestmark = pytest.mark.django_db


@pytest.mark.postgres
def test_full_text_search_ranks_and_follows_edits_and_comments(client, project, reporter):
    weak = make_issue(
        project, reporter, title="Cart badge", description="The checkout link is grey"
    )
    strong = make_issue(project, reporter, title="Checkout crashes on checkout")
    client.force_login(reporter)
    keys = lambda q: [i.key for i in client.get(reverse("issue_list"), {"q": q}).context["page"]]  # noqa: E731
    assert keys("checkouts") == [strong.key, weak.key]  # stemmed, ranked
    assert keys("refund") == []
    add_comment(weak, author=reporter, body="Customers ask for a refund")
    assert keys("refund") == [weak.key]
    update_issue(strong, actor=reporter, changes={"title": "Payment declined"})
    assert keys("payment") == [strong.key]
    assert keys('"checkout link" -badge') == []
    assert keys("web 1") == [weak.key]  # the key is part of the document too


@pytest.mark.postgres
def test_similar_issues_use_full_text(client, project, reporter):
    make_issue(project, reporter, title="Checkout times out under load")
    client.force_login(reporter)
    response = client.get(
        reverse("issue_similar"), {"project": project.pk, "title": "timeout in checkout"}
    )
    assert "Checkout times out under load" in response.text


def test_seed_bench_creates_realistic_issues_and_tops_up(db):
    call_command("seed_bench", issues=40, batch=15, verbosity=0)
    issues = Issue.objects.filter(project__key__startswith="BENCH")
    assert issues.count() == 40
    showcase = Issue.objects.get(project__key="BENCH", number=1)
    assert showcase.comments.count() == 50
    assert IssueEvent.objects.filter(issue__in=issues, kind="created").count() == 40
    assert Comment.objects.count() >= 50
    call_command("seed_bench", issues=40, verbosity=0)
    assert issues.count() == 40
    numbers = sorted(Issue.objects.filter(project__key="BENCH").values_list("number", flat=True))
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.postgres
def test_bench_writes_figures(tmp_path, capsys):
    call_command("bench", issues=30, requests=2, output=str(tmp_path), only=["issues"])
    data = json.loads((tmp_path / "issues.json").read_text())
    results = data["results"]
    assert set(results) == {
        "list_default",
        "list_open_high_by_due",
        "search",
        "detail_50_comments",
        "create_issue_form",
    }
    assert all(r["median_ms"] > 0 and r["queries"] > 0 for r in results.values())
    assert "list_default" in capsys.readouterr().out


@pytest.mark.postgres
def test_search_vector_of_seeded_issues_is_searchable(client, db):
    from accounts.models import User

    call_command("seed_bench", issues=20, verbosity=0)
    client.force_login(User.objects.get(username="bench"))
    title = Issue.objects.get(project__key="BENCH", number=1).title
    word = title.split()[0]
    page = client.get(reverse("issue_list"), {"q": word})
    assert "BENCH-1" in page.text
