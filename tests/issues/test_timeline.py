"""A long history does not make a long page: the timeline shows the oldest and the newest
entries with "Load 50 more" between them (htmx, or a plain page without JavaScript)."""

import re
from datetime import timedelta

import pytest
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from issues.models import Comment, EventKind, IssueEvent
from issues.timeline import TIMELINE_HEAD, TIMELINE_PAGE, TIMELINE_TAIL
from tests.factories import make_issue

pytestmark = pytest.mark.django_db


def _comments(issue, author, n):
    """n comments, one a minute (bulk: the test is about reading them)."""
    start = timezone.now() + timedelta(seconds=1)  # after the issue was filed
    rows = Comment.objects.bulk_create(
        Comment(issue=issue, author=author, body=f"note {i}", body_html=f"<p>note {i}</p>")
        for i in range(n)
    )
    for i, row in enumerate(rows):
        row.created_at = start + timedelta(minutes=i)
    Comment.objects.bulk_update(rows, ["created_at"])


def _activity(issue) -> int:
    return issue.events.exclude(kind=EventKind.COMMENTED).count()


def _shown_notes(html: str) -> list[int]:
    return [int(n) for n in re.findall(r"<p>note (\d+)</p>", html)]


def _page_queries(client, url) -> tuple[int, str]:
    from django.db import connection

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.text


def test_ten_thousand_comments_show_the_edges_and_a_load_more_link(client, project, reporter):
    issue = make_issue(project, reporter, title="Chatty")
    _comments(issue, reporter, 10_000)
    client.force_login(reporter)
    response = client.get(issue.get_absolute_url())
    html = response.text
    shown = _shown_notes(html)
    # Filing wrote the first entries (created, watched); then the oldest comments; the newest
    # comments at the end.
    events = _activity(issue)
    assert shown[: TIMELINE_HEAD - events] == list(range(TIMELINE_HEAD - events))
    assert shown[-TIMELINE_TAIL:] == list(range(10_000 - TIMELINE_TAIL, 10_000))
    assert len(shown) == TIMELINE_HEAD + TIMELINE_TAIL - events
    assert f"Load {TIMELINE_PAGE} more" in html
    hidden = 10_000 + events - TIMELINE_HEAD - TIMELINE_TAIL
    assert f"{hidden} entries in between not shown" in html
    assert len(response.content) < 200_000


def test_load_more_without_javascript_walks_the_whole_middle_once(client, project, reporter):
    issue = make_issue(project, reporter, title="Chatty")
    _comments(issue, reporter, 180)
    client.force_login(reporter)
    html = client.get(issue.get_absolute_url()).text
    seen = _shown_notes(html)
    pages = 0
    while match := re.search(r'<a class="btn btn-sm btn-outline-secondary" href="([^"]+)"', html):
        url = match.group(1).replace("&amp;", "&")
        response = client.get(url)  # a plain link: a whole page
        assert response.status_code == 200
        assert "Earlier activity of" in response.text
        html = response.text
        seen += _shown_notes(html)
        pages += 1
        assert pages < 10
    assert sorted(seen) == list(range(180))
    assert len(seen) == len(set(seen)) == 180
    between = 180 + _activity(issue) - TIMELINE_HEAD - TIMELINE_TAIL
    assert pages == -(-between // TIMELINE_PAGE)


def test_load_more_with_htmx_answers_only_the_entries(client, project, reporter):
    issue = make_issue(project, reporter, title="Chatty")
    _comments(issue, reporter, 120)
    client.force_login(reporter)
    html = client.get(issue.get_absolute_url()).text
    url = re.search(r'hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<html" not in response.text
    events = _activity(issue)
    notes = _shown_notes(response.text)
    first = TIMELINE_HEAD - events
    assert notes == list(range(first, first + TIMELINE_PAGE))
    left = 120 + events - TIMELINE_HEAD - TIMELINE_TAIL - TIMELINE_PAGE
    assert f"Load {left} more" in response.text


def test_activity_and_comments_interleave_in_order(client, project, reporter, developer):
    from issues.services import add_comment
    from workflows.issue_use_cases import update_issue

    issue = make_issue(project, reporter, title="Mixed")
    for n in range(40):
        add_comment(issue, author=reporter, body=f"note {n}")
        update_issue(issue, actor=reporter, changes={"environment": f"env {n}"})
    client.force_login(reporter)
    html = client.get(issue.get_absolute_url()).text
    # Newest last: the last comment, then the last change.
    assert html.rindex("note 39") < html.rindex("env 39")
    assert "note 0" in html  # the oldest are shown too
    assert "Load" in html


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "x",
        "2026-01-01~0~1",
        "nope~0~1",
        "2026-01-01T00:00:00+00:00~7~1",
        "2026-01-01T00:00:00+00:00~0~\u00b2",
    ],
)
def test_a_broken_cursor_goes_back_to_the_issue(client, project, reporter, bad):
    issue = make_issue(project, reporter, title="Chatty")
    client.force_login(reporter)
    response = client.get(f"{issue.get_absolute_url()}timeline/", {"after": bad, "before": bad})
    assert response.status_code == 302
    assert response["Location"] == issue.get_absolute_url()


def test_the_timeline_costs_the_same_queries_for_50_and_5000_entries(client, project, reporter):
    small = make_issue(project, reporter, title="Small")
    big = make_issue(project, reporter, title="Big")
    _comments(small, reporter, 50)
    _comments(big, reporter, 5000)
    IssueEvent.objects.bulk_create(
        IssueEvent(issue=big, actor=reporter, kind=EventKind.CHANGED, field="environment",
                   new_value=str(i))
        for i in range(500)
    )  # fmt: skip
    client.force_login(reporter)
    client.get(small.get_absolute_url())  # warm up
    small_queries, _ = _page_queries(client, small.get_absolute_url())
    big_queries, html = _page_queries(client, big.get_absolute_url())
    assert big_queries == small_queries
    more = re.search(r'hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    first, _ = _page_queries(client, more)
    _comments(big, reporter, 2000)
    second, _ = _page_queries(client, more)
    assert first == second


def test_someone_outside_the_project_cannot_page_through(client, project, reporter, outsider):
    issue = make_issue(project, reporter, title="Private")
    _comments(issue, reporter, 200)
    client.force_login(reporter)
    html = client.get(issue.get_absolute_url()).text
    url = re.search(r'hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_entries_show_attachments_and_reasons_escaped(client, project, reporter):
    """The timeline (rendered in Python, issue_tags.timeline_entries) shows a comment's files
    with their size and a change's reason, line breaks kept and markup escaped, on the page
    and in the "load more" pages."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from issues.models import Attachment
    from issues.services import add_comment
    from workflows.issue_use_cases import update_issue

    issue = make_issue(project, reporter, title="Timeline pieces")
    add_comment(
        issue,
        author=reporter,
        body="Log attached",
        attachments=[SimpleUploadedFile("trace <1>.txt", b"x" * 2048)],
    )
    update_issue(
        issue, actor=reporter, changes={"priority": 3}, reason="Customer waits\n<b>urgent</b>"
    )
    attachment = Attachment.objects.get(issue=issue)
    client.force_login(reporter)
    html = client.get(issue.get_absolute_url()).text
    link = reverse("attachment_download", args=[issue.key, attachment.pk])
    assert f'<a href="{link}" download>trace &lt;1&gt;.txt</a>' in html
    assert "(2.0\xa0KB)" in html
    assert "Log attached" in html
    assert "<dt>Reason</dt><dd>Customer waits<br>&lt;b&gt;urgent&lt;/b&gt;</dd>" in html
    assert f'id="comment-{issue.comments.get().pk}"' in html


def _orm_edges(qs, head, tail):
    """The ORM reading the issue page used before its SQL was written once per process:
    row numbers both ways, the head oldest and the tail newest rows."""
    from django.db.models import Count, F, Q, Window
    from django.db.models.functions import RowNumber

    rows = list(
        qs.annotate(
            _first=Window(RowNumber(), order_by=[F("created_at").asc(), F("id").asc()]),
            _last=Window(RowNumber(), order_by=[F("created_at").desc(), F("id").desc()]),
            _total=Window(Count("id")),
        )
        .filter(Q(_first__lte=head) | Q(_last__lte=tail))
        .order_by("created_at", "id")
    )
    return rows, (rows[0]._total if rows else 0)


@pytest.mark.parametrize("comments", [0, 3, TIMELINE_HEAD + TIMELINE_TAIL + 7])
def test_timeline_window_reads_what_the_orm_reads(project, reporter, developer, comments):
    from issues.timeline import timeline_window

    issue = make_issue(project, reporter)
    _comments(issue, developer, comments)
    # Activity with a system event (no actor), JSON data, and ties on created_at.
    at = timezone.now() + timedelta(minutes=5)
    IssueEvent.objects.bulk_create(
        IssueEvent(
            issue=issue,
            actor=None if i % 3 == 0 else developer,
            kind=EventKind.CHANGED,
            field="priority",
            old_value=str(i),
            new_value=str(i + 1),
            data={"n": i, "why": ["tie"]},
        )
        for i in range(TIMELINE_HEAD + TIMELINE_TAIL + 5)
    )
    IssueEvent.objects.filter(issue=issue).update(created_at=at)
    comment_rows, comment_total = _orm_edges(
        issue.comments.select_related("author"), TIMELINE_HEAD, TIMELINE_TAIL
    )
    event_rows, event_total = _orm_edges(
        issue.events.exclude(kind=EventKind.COMMENTED).select_related("actor"),
        TIMELINE_HEAD,
        TIMELINE_TAIL,
    )
    window = timeline_window(issue, reporter)
    shown = window["timeline"]
    assert window["timeline_total"] == comment_total + event_total
    read_comments = [item for kind, item in shown if kind == "comment"]
    read_events = [item for kind, item in shown if kind == "event"]
    # Every shown row is one the ORM reads, field for field, with its user.
    orm_comments = {row.pk: row for row in comment_rows}
    orm_events = {row.pk: row for row in event_rows}
    for row in read_comments:
        orm = orm_comments[row.pk]
        assert [getattr(row, f.attname) for f in Comment._meta.concrete_fields] == [
            getattr(orm, f.attname) for f in Comment._meta.concrete_fields
        ]
        assert row.author == orm.author and row.author.username == orm.author.username
        assert row.created_at.tzinfo is not None
    for row in read_events:
        orm = orm_events[row.pk]
        assert [getattr(row, f.attname) for f in IssueEvent._meta.concrete_fields] == [
            getattr(orm, f.attname) for f in IssueEvent._meta.concrete_fields
        ]
        assert row.actor == orm.actor
        assert row.data == orm.data
    if comment_total + event_total <= TIMELINE_HEAD + TIMELINE_TAIL:
        assert {r.pk for r in read_comments} == set(orm_comments)
        assert {r.pk for r in read_events} == set(orm_events)
