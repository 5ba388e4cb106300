"""`seed_bench` writes its issues with COPY, bypassing the services for speed; what it writes
must be what the services write. The same issues are seeded both ways (COPY, then rolled back
and filed through create_issue / update_issue / add_comment) and the rows compared, ids and
timestamps aside: the issue's fields, its stored HTML, its audit trail, watchers, labels,
comments and the full-text document.

Not compared (seed_bench makes them up on purpose, see its docstring): statuses other than New
(no transitions are replayed) and the SLA clocks, whose cached deadlines are spread over every
SLA state relative to the moment of seeding instead of being derived from a ledger."""

import random
from datetime import UTC, datetime

import pytest
from django.core.management.base import OutputWrapper
from django.db import connection, transaction

from accounts.models import User
from bench.management.commands import seed_bench
from issues.models import Comment, Issue, Status
from issues.services import add_comment
from workflows.issue_use_cases import create_issue, update_issue

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ISSUES = 40


def _data(data: dict, comment_numbers: dict[int, int]) -> dict:
    # A comment's id differs between the two runs: its position on the issue stands for it.
    if "comment_id" in data:
        data = {**data, "comment_id": comment_numbers[data["comment_id"]]}
    return data


def _snapshot(projects) -> dict[str, dict]:
    issues = (
        Issue.objects.filter(project__in=projects)
        .select_related("project", "reporter", "owner", "team")
        .prefetch_related("labels", "watchers", "events__actor", "comments__author")
        .order_by("project__key", "number")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            # Lexemes and weights; positions aside (the comments' order in the document is
            # not fixed by the services' SQL either).
            "SELECT id, array(SELECT (u.lexeme, u.weights)::text FROM unnest(search_vector) u"
            " ORDER BY 1) FROM issues_issue WHERE project_id = ANY(%s)",
            [[p.pk for p in projects]],
        )
        documents = dict(cursor.fetchall())
    rows = {}
    for issue in issues:
        comments = sorted(issue.comments.all(), key=lambda c: c.pk)
        numbers = {c.pk: n for n, c in enumerate(comments)}
        rows[issue.key] = {
            "fields": {
                field: getattr(issue, field)
                for field in (
                    "title",
                    "description",
                    "description_html",
                    "description_html_version",
                    "type",
                    "priority",
                    "severity",
                    "status",
                    "environment",
                    "version",
                    "sla_cycle",
                    "resolution",
                    "affected_version_id",
                    "fix_version_id",
                    "component_id",
                )
            },  # fmt: skip
            "people": (
                issue.reporter.username,
                issue.owner.username if issue.owner else None,
                issue.team.name if issue.team else None,
            ),
            "labels": sorted(label.name for label in issue.labels.all()),
            "watchers": sorted(user.username for user in issue.watchers.all()),
            "events": sorted(
                (
                    e.kind,
                    e.field,
                    e.old_value,
                    e.new_value,
                    e.actor.username,
                    sorted(_data(e.data, numbers).items()),
                )
                for e in issue.events.all()
            ),  # fmt: skip
            "comments": [
                (c.author.username, c.body, c.body_html, c.body_html_version) for c in comments
            ],
            "document": documents[issue.pk],
        }
    return rows


def _file_through_the_services(copied: dict[str, dict], projects) -> None:
    """File the issues COPY wrote, in the same order, the way a person would: file it, then
    give it its owner, then comment."""
    by_key = {p.key: p for p in projects}
    users = {u.username: u for u in User.objects.filter(memberships__project__in=projects)}
    teams = {t.name: t for t in seed_bench.Team.objects.all()}
    for key, row in copied.items():
        project = by_key[key.rsplit("-", 1)[0]]
        reporter, owner, team = row["people"]
        fields = row["fields"]
        issue = create_issue(
            project,
            reporter=users[reporter],
            title=fields["title"],
            description=fields["description"],
            type=fields["type"],
            priority=fields["priority"],
            severity=fields["severity"],
            team=teams[team] if team else None,
            environment=fields["environment"],
            labels=list(project.labels.filter(name__in=row["labels"])),
        )
        assert issue.key == key
        if owner:
            update_issue(issue, actor=users[reporter], changes={"owner": users[owner]})
        for author, body, _html, _version in row["comments"]:
            add_comment(issue, author=users[author], body=body)


def test_copy_seeding_writes_what_the_services_write(monkeypatch):
    # New issues only: the services reach other statuses through transitions, not replayed.
    monkeypatch.setattr(seed_bench, "STATUS_WEIGHTS", [(Status.NEW, 1)])
    command = seed_bench.Command(stdout=OutputWrapper(open("/dev/null", "w")))  # noqa: SIM115
    projects, people = command._people_and_projects()
    labels = {p.pk: list(p.labels.all()) for p in projects}
    for project in projects:
        project.refresh_from_db()
    with transaction.atomic():
        command._batch(
            random.Random(7),  # noqa: S311 - the bench's own generator
            projects,
            people,
            labels,
            ISSUES,
            datetime.now(UTC),
            showcase=True,
        )
        copied = _snapshot(projects)
        transaction.set_rollback(True)
    assert len(copied) == ISSUES
    assert Comment.objects.count() == 0 and not Issue.objects.exists()
    assert sum(bool(row["comments"]) for row in copied.values()) >= 5
    assert sum(row["people"][1] is not None for row in copied.values()) >= 5
    for project in projects:
        project.refresh_from_db()
    _file_through_the_services(copied, projects)
    served = _snapshot(projects)
    assert served.keys() == copied.keys()
    for key in copied:
        for part in copied[key]:
            assert copied[key][part] == served[key][part], (key, part)
