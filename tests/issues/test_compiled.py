"""Reads compiled once (accounts.compiled): the same rows and instances as their querysets."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Q
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from issues.models import Issue, IssueLink
from issues.selectors import get_issue_for_user, links_for_viewer
from issues.services import add_attachment, add_comment, link_issues, watch_issue
from issues.timeline import issue_page_data
from tests.factories import make_issue

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.attname != "search_vector"
    }


def test_issue_by_key_matches_the_orm_for_members_staff_and_outsiders(
    project, reporter, developer, outsider, admin_user
):
    issue = make_issue(project, reporter, owner=developer, environment="prod")
    for user in (reporter, admin_user):
        found = get_issue_for_user(user, issue.key)
        assert "search_vector" not in found.__dict__  # deferred, as issues_visible_to does
        orm = Issue.objects.select_related(
            "project", "owner", "reporter", "team", "component", "affected_version", "fix_version"
        ).get(pk=issue.pk)
        assert _fields(found) == _fields(orm)
        # select_related as the ORM does it: no query for the related rows, None for empty FKs.
        with CaptureQueriesContext(connection) as ctx:
            assert found.project.key == "WEB"
            assert found.owner == developer and found.reporter == reporter
            assert found.team is None and found.component is None and found.fix_version is None
        assert not ctx.captured_queries
        assert found._loaded_status == issue.status  # Issue.from_db ran
    with pytest.raises(Http404):
        get_issue_for_user(outsider, issue.key)
    with pytest.raises(Http404):
        get_issue_for_user(reporter, "WEB-999")
    issue.archived_at = issue.created_at
    issue.save()
    with pytest.raises(Http404):
        get_issue_for_user(reporter, issue.key)


def test_second_read_runs_the_same_sql_with_other_values(project, reporter):
    first, second = make_issue(project, reporter), make_issue(project, reporter)
    with CaptureQueriesContext(connection) as ctx:
        assert get_issue_for_user(reporter, first.key).pk == first.pk
        assert get_issue_for_user(reporter, second.key).pk == second.pk
    one, two = (q["sql"] for q in ctx.captured_queries)
    assert f'"number" = {first.number}' in one and f'"number" = {second.number}' in two
    assert re.sub(r'"number" = \d+', "", one) == re.sub(r'"number" = \d+', "", two)


def test_page_reads_match_related_managers(project, reporter, developer, tester):
    issue = make_issue(project, reporter)
    other = make_issue(project, reporter)
    watch_issue(issue, user=developer)
    watch_issue(issue, user=tester)
    add_attachment(issue, actor=reporter, upload=SimpleUploadedFile("a.txt", b"x"))
    add_comment(issue, author=developer, body="hi", attachments=[SimpleUploadedFile("b", b"y")])
    link_issues(issue, target=other, kind="blocks", actor=reporter)
    label = project.labels.create(name="checkout")
    issue.labels.add(label, project.labels.create(name="api"))
    data = issue_page_data(issue, reporter)
    assert [_fields(w) for w in data["watchers"]] == [_fields(w) for w in issue.watchers.all()]
    assert [w.username for w in data["watchers"]] == ["developer", "reporter", "tester"]
    assert [_fields(x) for x in data["labels"]] == [_fields(x) for x in issue.labels.all()]
    assert [x.name for x in data["labels"]] == ["api", "checkout"]
    own = [a for a in issue.attachments.all() if a.comment_id is None]
    assert [_fields(a) for a in data["issue_attachments"]] == [_fields(a) for a in own]
    with CaptureQueriesContext(connection) as ctx:
        assert data["issue_attachments"][0].issue is issue
    assert not ctx.captured_queries
    rows = links_for_viewer(issue, reporter)
    orm = IssueLink.objects.filter(Q(source=issue) | Q(target=issue)).order_by("created_at", "id")
    assert [_fields(r.link) for r in rows] == [_fields(link) for link in orm]
    assert rows[0].other.key == other.key and rows[0].label == "blocks"


def test_the_sla_cycles_set_on_the_page_are_what_the_prefetch_gives(project, reporter):
    from django.db.models import prefetch_related_objects

    from workflows.selectors import cycles_of, cycles_prefetch, set_cycles, stage_durations

    issue = make_issue(project, reporter, severity=4)  # the clock starts when it is filed
    fresh = Issue.objects.get(pk=issue.pk)
    set_cycles(fresh)
    orm = Issue.objects.get(pk=issue.pk)
    prefetch_related_objects([orm], cycles_prefetch())
    assert [_fields(c) for c in cycles_of(fresh)] == [_fields(c) for c in cycles_of(orm)]
    assert cycles_of(fresh), "a filed Critical issue has an SLA cycle"
    with CaptureQueriesContext(connection) as ctx:
        cycles = cycles_of(fresh)
        assert cycles[0].policy.version == cycles_of(orm)[0].policy.version
        assert cycles[0].issue is fresh
        assert list(fresh.sla_cycles.all()) == cycles
    assert not ctx.captured_queries
    now = issue.created_at
    assert stage_durations(fresh, now) == stage_durations(orm, now)
