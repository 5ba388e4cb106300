"""The board: columns, cards, filters, WIP limits, caps, moves (403/409/400), the no-JS path,
polling with ETag/If-Modified-Since, and that a board never shows another project's cards."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date

from boards.selectors import CARD_CAP, CARD_PAGE
from issues.models import EventKind, Issue, IssueEvent, Status
from issues.services import add_comment
from projects.models import Role
from tests.factories import MembershipFactory, make_issue
from workflows.issue_use_cases import add_label
from workflows.services import transition_issue

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def board(client, key="WEB", **params):
    url = reverse("project_board", args=[key]) if key else reverse("board")
    return client.get(url, params)


def column(html: str, status: str, lane: str = "all") -> str:
    """The HTML of one cell of the board."""
    m = re.search(rf'<ol [^>]*id="cell-{lane}-{status}"[^>]*>(.*?)</ol>', html, re.S)
    assert m, f"no {status} column"
    return m.group(1)


def head(html: str, status: str) -> str:
    m = re.search(rf'<header [^>]*id="head-{status}".*?</header>', html, re.S)
    assert m
    return m.group(0)


def keys(cell: str) -> list[str]:
    return re.findall(r'data-key="([A-Z]+-\d+)"', cell)


@pytest.fixture
def lifecycle(project, manager, developer, tester, reporter):
    """One issue in each status of WEB."""
    new = make_issue(project, reporter, title="Fresh report")
    assigned = make_issue(project, reporter, title="Taken")
    transition_issue(assigned, Status.ASSIGNED, actor=manager, owner=developer.pk)
    revise = make_issue(project, reporter, title="In the works", priority=3)
    transition_issue(revise, Status.ASSIGNED, actor=manager, owner=developer.pk)
    transition_issue(revise, Status.REVISE, actor=developer)
    retest = make_issue(project, reporter, title="Please retest")
    transition_issue(retest, Status.ASSIGNED, actor=manager, owner=developer.pk)
    transition_issue(retest, Status.REVISE, actor=developer)
    transition_issue(retest, Status.RETEST, actor=developer, fix_summary="Patched")
    return {"new": new, "assigned": assigned, "revise": revise, "retest": retest}


def test_columns_in_lifecycle_order_with_full_cards(client, lifecycle, reporter, developer):
    add_label(lifecycle["revise"], actor=developer, name="checkout")
    add_comment(lifecycle["revise"], author=reporter, body="Still broken for me")
    add_comment(lifecycle["revise"], author=developer, body="On it")
    client.force_login(developer)
    html = board(client).text
    order = re.findall(r'<header class="board-head" id="head-(\w+)"', html)
    assert order == ["new", "assigned", "revise", "retest", "fixed", "closed"]
    for status, issue in lifecycle.items():
        assert keys(column(html, status)) == [issue.key]
    card = column(html, "revise")
    assert "In the works" in card
    assert "bi-bug" in card  # type icon
    assert "prio-3" in card and "High" in card  # priority
    assert "Minor" in card  # severity
    assert f">{developer.initials}<" in card  # owner initials
    assert 'class="badge sla-badge' in card and "left" in card  # the list's SLA badge
    assert ">checkout<" in card  # label
    assert '2<span class="visually-hidden"> comments' in card
    assert "Unassigned" in column(html, "new")
    assert '<span class="badge text-bg-light border board-count">1' in head(html, "new")


def test_order_sla_urgency_then_priority_then_age(client, project, manager, reporter):
    low = make_issue(project, reporter, title="low", priority=1, severity=1)
    high_old = make_issue(project, reporter, title="high old", priority=3, severity=4)
    high_new = make_issue(project, reporter, title="high new", priority=3, severity=4)
    no_deadline = make_issue(project, reporter, title="no sla")
    type(no_deadline).objects.filter(pk=no_deadline.pk).update(resolution_due_at=None)
    client.force_login(manager)
    got = keys(column(board(client).text, "new"))
    # High+Critical has the shortest target, the oldest of equals first, no deadline last.
    assert got == [high_old.key, high_new.key, low.key, no_deadline.key]


def test_closed_column_shows_the_last_14_days(client, project, manager, developer, reporter):
    issue = make_issue(project, reporter)
    transition_issue(issue, Status.CLOSED, actor=manager, resolution="invalid")
    client.force_login(manager)
    assert keys(column(board(client).text, "closed")) == [issue.key]
    with time_machine.travel(timezone.now() + timedelta(days=15), tick=False):
        client.force_login(manager)  # the session of 15 days ago has expired
        html = board(client).text
        assert keys(column(html, "closed")) == []
        assert "last 14 days" in head(html, "closed")
        assert keys(column(board(client, closed=30).text, "closed")) == [issue.key]


def test_filters_and_chips(client, lifecycle, project, manager, developer, reporter):
    crit = make_issue(project, reporter, title="Payment gateway down", severity=4, priority=3)
    add_label(crit, actor=reporter, name="payments")
    client.force_login(developer)

    def shown(**params):
        html = board(client, **params).text
        return {k for s in ("new", "assigned", "revise", "retest") for k in keys(column(html, s))}

    assert shown(owner="me") == {lifecycle[s].key for s in ("assigned", "revise", "retest")}
    assert shown(severity=4) == {crit.key}
    assert shown(label="payments") == {crit.key}
    assert shown(q="gateway") == {crit.key}
    assert shown(priority=3, owner="unassigned") == {crit.key}
    html = board(client, severity=4, lanes="owner").text
    assert "Severity: Critical" in html  # the list's chips
    assert 'href="?lanes=owner"' in html  # removing the chip keeps the board's own options
    # At risk or breached: past the deadline of everything.
    with time_machine.travel(timezone.now() + timedelta(days=60), tick=False):
        client.force_login(developer)
        assert shown(sla="at_risk_or_breached") == {i.key for i in (*lifecycle.values(), crit)}
        assert shown(sla="on_track") == set()


def test_invalid_filter_says_so_and_shows_nothing(client, lifecycle, manager):
    client.force_login(manager)
    response = board(client, owner="nobody-like-this")
    assert response.status_code == 200
    assert "Nobody called “nobody-like-this” in your projects." in response.text
    assert keys(column(response.text, "new")) == []


def test_swimlanes_by_owner_severity_team(client, lifecycle, manager, developer, team):
    client.force_login(manager)
    html = board(client, lanes="owner").text
    assert re.search(r'id="lane-owner-\d+">developer', html)
    assert 'id="lane-owner-none">Unassigned' in html
    assert keys(column(html, "new", lane="owner-none")) == [lifecycle["new"].key]
    html = board(client, lanes="severity").text
    assert 'id="lane-severity-2">Minor' in html
    html = board(client, lanes="team").text
    assert 'id="lane-team-none">No team' in html


def test_wip_limits_set_by_managers_amber_when_over(client, project, manager, developer, reporter):
    for n in range(3):
        make_issue(project, reporter, title=f"n{n}")
    client.force_login(developer)
    assert client.get(reverse("board_limits", args=["WEB"])).status_code == 403
    assert "WIP limits" not in board(client).text
    client.force_login(manager)
    response = client.post(reverse("board_limits", args=["WEB"]), {"new": 2, "assigned": 5})
    assert response.status_code == 302
    html = board(client).text
    new_head = head(html, "new")
    assert (
        "3 / 2" in new_head and "text-bg-warning" in new_head and "over the WIP limit" in new_head
    )
    assigned_head = head(html, "assigned")
    assert "0 / 5" in assigned_head and "text-bg-warning" not in assigned_head
    bad = client.post(reverse("board_limits", args=["WEB"]), {"new": 0})
    assert bad.status_code == 400
    # Clearing a limit removes it from the board.
    client.post(reverse("board_limits", args=["WEB"]), {"new": ""})
    assert "3 / 2" not in board(client).text


def foot(html: str, status: str) -> str:
    m = re.search(rf'<footer [^>]*id="foot-{status}".*?</footer>', html, re.S)
    assert m
    return m.group(0)


def test_columns_show_a_page_of_cards_with_more_and_a_link_to_the_list(
    client, project, manager, reporter
):
    total = CARD_PAGE + 3
    made = [make_issue(project, reporter, title=f"issue {n}") for n in range(total)]
    client.force_login(manager)
    html = board(client).text
    shown = keys(column(html, "new"))
    # The first CARD_PAGE in board order (same SLA target: the oldest first).
    assert shown == [i.key for i in made[:CARD_PAGE]]
    assert f">{total}<" in head(html, "new")
    new_foot = foot(html, "new")
    assert "3 more" in new_foot
    link = re.search(r'href="([^"]+)">show in the list →', new_foot).group(1)
    assert link.startswith("/issues/?") and "status=new" in link and f"project={project.pk}" in link
    listing = client.get(link.replace("&amp;", "&"))
    assert f"{total} issues" in listing.text
    # "Show more" is a plain link (no JS needed): the same board, that column longer.
    more = re.search(r'href="([^"]+)" data-board-more="new"', new_foot).group(1)
    assert f"show_new={2 * CARD_PAGE}" in more
    longer = client.get(more.replace("&amp;", "&")).text
    assert keys(column(longer, "new")) == [i.key for i in made]
    assert "more" not in foot(longer, "new")
    # Columns with nothing hidden say nothing.
    assert "more" not in foot(html, "assigned")


def test_show_more_keeps_filters_and_stops_at_the_cap(client, project, manager, reporter):
    for n in range(CARD_PAGE + 1):
        make_issue(project, reporter, title=f"issue {n}", priority=3)
    make_issue(project, reporter, title="low one", priority=1)
    client.force_login(manager)
    html = board(client, priority=3, lanes="owner").text
    more = re.search(r'href="([^"]+)" data-board-more="new"', foot(html, "new")).group(1)
    more = more.replace("&amp;", "&")
    assert "priority=3" in more and "lanes=owner" in more
    longer = client.get(more).text
    assert len(keys(longer)) == CARD_PAGE + 1 and "low one" not in longer
    # Nonsense or huge values fall back to a page, or stop at CARD_CAP.
    assert len(keys(column(board(client, show_new="lots").text, "new"))) == CARD_PAGE
    assert len(keys(column(board(client, show_new=CARD_CAP * 10).text, "new"))) == CARD_PAGE + 2


def test_no_show_more_past_the_cap_only_the_list(client, project, manager, reporter, monkeypatch):
    monkeypatch.setattr("boards.selectors.CARD_PAGE", 2)
    monkeypatch.setattr("boards.selectors.CARD_CAP", 4)
    for n in range(5):
        make_issue(project, reporter, title=f"issue {n}")
    client.force_login(manager)
    assert len(keys(column(board(client).text, "new"))) == 2
    html = board(client, show_new=4).text
    assert len(keys(column(html, "new"))) == 4
    assert "1 more" in foot(html, "new") and "data-board-more" not in foot(html, "new")
    assert "show in the list →" in foot(html, "new")


@pytest.mark.parametrize(("asked", "got"), [("", CARD_PAGE), ("x", CARD_PAGE), ("0", CARD_PAGE),
                                             ("21", 2 * CARD_PAGE), ("40", 2 * CARD_PAGE),
                                             ("100000", CARD_CAP)])  # fmt: skip
def test_cards_asked_per_column_are_whole_pages_up_to_the_cap(rf, asked, got):
    from boards.views import _shown

    assert _shown(rf.get("/board/", {"show_new": asked}))["new"] == got
    assert _shown(rf.get("/board/", {"show_new": asked}))["assigned"] == CARD_PAGE


def test_board_query_count_is_constant(
    client, project, manager, developer, reporter, team, django_assert_num_queries
):
    issue = make_issue(project, reporter, team=team)
    add_label(issue, actor=reporter, name="x")
    client.force_login(developer)
    # session, user, visible projects, teams with the projects' components and versions (one
    # statement), WIP limits, column counts (one statement),
    # cards (one statement), labels, roles, transition overrides, the bell's unread count,
    # the projects' SLA policies (business time left, once per board)
    board(client)
    with django_assert_num_queries(12):
        board(client)
    for n in range(30):
        i = make_issue(project, reporter, team=team, priority=3)
        add_label(i, actor=reporter, name=f"l{n % 4}")
        if n % 3 == 0:
            transition_issue(i, Status.ASSIGNED, actor=manager, owner=developer.pk)
            add_comment(i, author=developer, body="looking")
    with django_assert_num_queries(12):
        board(client)
    with django_assert_num_queries(13):  # + the chosen owner, looked up once
        board(client, priority=3, owner=developer.pk, q="broken", lanes="team")
    # The board across projects costs the same.
    with django_assert_num_queries(11):  # no WIP limits across projects
        board(client, key=None)


@pytest.mark.parametrize("per_project_max", [20, 1])
def test_board_across_projects_shows_every_projects_first_cards_in_board_order(
    client, project, other_project, manager, reporter, monkeypatch, per_project_max
):
    """Across projects each column merges each project's own first cards (or, past
    PER_PROJECT_MAX projects, sorts the column): the same cards, in the same order, as one
    sort of all of them."""
    monkeypatch.setattr("boards.selectors.CARD_PAGE", 4)
    monkeypatch.setattr("boards.selectors.PER_PROJECT_MAX", per_project_max)
    MembershipFactory(project=other_project, user=manager, role=Role.MANAGER)
    MembershipFactory(project=other_project, user=reporter, role=Role.REPORTER)
    made = []
    for n in range(6):
        for p in (project, other_project):
            made.append(make_issue(p, reporter, title=f"{p.key} {n}", priority=1 + n % 3,
                                   severity=1 + (n * 7) % 4))  # fmt: skip
    for issue in made[:4]:
        transition_issue(issue, Status.CLOSED, actor=manager, resolution="invalid")
    client.force_login(manager)
    html = board(client, key=None).text
    issues = Issue.objects.filter(pk__in=[i.pk for i in made])
    open_order = issues.filter(status=Status.NEW).order_by(
        F("resolution_due_at").asc(nulls_last=True), "-priority", "created_at", "pk"
    )
    done_order = issues.filter(status=Status.CLOSED).order_by("-updated_at", "-pk")
    assert keys(column(html, "new")) == [i.key for i in open_order[:4]]
    assert {k.split("-")[0] for k in keys(column(html, "new"))} == {"WEB", "OPS"}
    assert keys(column(html, "closed")) == [i.key for i in done_order[:4]]
    assert ">8<" in head(html, "new") and "4 more" in foot(html, "new")
    # One project's board of the same data: only its cards, its own first four.
    web = board(client).text
    assert keys(column(web, "new")) == [i.key for i in open_order.filter(project=project)[:4]]


def test_board_query_count_is_constant_with_many_cards(
    client, project, other_project, manager, developer, reporter, team, monkeypatch,
    django_assert_num_queries,
):  # fmt: skip
    """Full columns in two projects, with owners, teams, labels, comments, finished cards
    and swimlanes: the same statements as an almost empty board."""
    monkeypatch.setattr("boards.selectors.CARD_PAGE", 5)
    MembershipFactory(project=other_project, user=manager, role=Role.MANAGER)
    MembershipFactory(project=other_project, user=developer, role=Role.DEVELOPER)
    client.force_login(manager)
    make_issue(project, reporter)
    board(client)
    with django_assert_num_queries(12):
        board(client)
    for n in range(24):
        p = project if n % 2 else other_project
        i = make_issue(p, reporter if p == project else manager, team=team, priority=1 + n % 3)
        add_label(i, actor=manager, name=f"l{n % 5}")
        if n % 3:
            transition_issue(i, Status.ASSIGNED, actor=manager, owner=developer.pk)
            add_comment(i, author=developer, body="looking")
        if n % 4 == 0:
            transition_issue(i, Status.CLOSED, actor=manager, resolution="invalid")
    html = board(client, key=None).text
    assert len(keys(html)) > 12 and "more" in foot(html, "assigned")
    with django_assert_num_queries(12):
        board(client)
    with django_assert_num_queries(12):
        board(client, show_assigned=100, show_new=100, lanes="owner")
    with django_assert_num_queries(11):  # no WIP limits across projects
        board(client, key=None)
    with django_assert_num_queries(11):
        board(client, key=None, lanes="team", show_closed=100)
    with django_assert_num_queries(11):
        board(client, key=None, lanes="severity", priority=3)


# --- moves --------------------------------------------------------------------------------
def move(client, issue, to, data=None, *, partial=True):
    url = reverse("board_move", args=[issue.key, to])
    return client.post(url, data or {}, **(HX if partial else {}))


def test_drop_without_fields_moves_the_card(client, lifecycle, developer):
    issue = lifecycle["assigned"]
    client.force_login(developer)
    response = move(client, issue, "revise", {"start-expected_status": "assigned"})
    assert response.status_code == 200
    assert response.text == f"{issue.key} is now Revise."
    issue.refresh_from_db()
    assert issue.status == Status.REVISE
    assert IssueEvent.objects.filter(
        issue=issue, kind=EventKind.TRANSITIONED, new_value="revise", actor=developer
    ).exists()
    assert issue.key in keys(column(board(client).text, "revise"))


def test_drop_needing_fields_opens_the_panel_and_validates(client, lifecycle, developer, manager):
    issue = lifecycle["new"]
    client.force_login(manager)
    panel = client.get(reverse("board_move", args=[issue.key, "assigned"]), **HX)
    assert panel.status_code == 200 and panel["X-Board-Panel"] == "1"
    assert 'name="assign-owner"' in panel.text and "data-board-cancel" in panel.text
    assert "<html" not in panel.text  # only the panel
    missing = move(client, issue, "assigned", {"assign-expected_status": "new"})
    assert missing.status_code == 400 and missing["X-Board-Panel"] == "1"
    assert "This field is required" in missing.text
    issue.refresh_from_db()
    assert issue.status == Status.NEW
    ok = move(
        client, issue, "assigned", {"assign-expected_status": "new", "assign-owner": developer.pk}
    )
    assert ok.status_code == 200
    issue.refresh_from_db()
    assert (issue.status, issue.owner) == (Status.ASSIGNED, developer)


def test_fix_summary_required_for_retest(client, lifecycle, developer):
    issue = lifecycle["revise"]
    client.force_login(developer)
    missing = move(client, issue, "retest", {"submit-expected_status": "revise"})
    assert missing.status_code == 400 and "This field is required" in missing.text
    ok = move(
        client,
        issue,
        "retest",
        {"submit-expected_status": "revise", "submit-fix_summary": "Retry on timeout"},
    )
    assert ok.status_code == 200
    issue.refresh_from_db()
    assert issue.status == Status.RETEST


def test_forbidden_move_is_403_with_the_reason(client, lifecycle, reporter):
    issue = lifecycle["new"]
    client.force_login(reporter)
    html = board(client).text
    assert 'data-moves=""' in column(html, "new")  # no column accepts it
    response = move(client, issue, "assigned", {"assign-expected_status": "new", "assign-owner": 1})
    assert response.status_code == 403
    assert "You may not take “Assign” on WEB-1" in response.text
    panel = client.get(reverse("board_move", args=[issue.key, "assigned"]), **HX)
    assert panel.status_code == 403
    issue.refresh_from_db()
    assert issue.status == Status.NEW


def test_four_eyes_and_impossible_moves(client, lifecycle, developer):
    client.force_login(developer)
    issue = lifecycle["retest"]
    response = move(client, issue, "fixed", {"verify-expected_status": "retest"})
    assert response.status_code == 403 and "four eyes" in response.text
    response = move(client, lifecycle["new"], "fixed", {"expected_status": "new"})
    assert response.status_code == 400 and "cannot go from New to Fixed" in response.text
    assert move(client, lifecycle["new"], "nowhere").status_code == 400


def test_stale_move_is_409_saying_who_moved_it(client, lifecycle, manager, developer):
    issue = lifecycle["new"]
    client.force_login(manager)
    html = board(client).text  # the manager sees it in New…
    assert issue.key in keys(column(html, "new"))
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)  # …someone moves it
    response = move(
        client, issue, "assigned", {"assign-expected_status": "new", "assign-owner": developer.pk}
    )
    assert response.status_code == 409
    assert f"{issue.key} was moved to Assigned by manager" in response.text
    # Dropped on a column it can no longer go to from where it now is: also 409 on GET.
    panel = client.get(reverse("board_move", args=[issue.key, "assigned"]), **HX)
    assert panel.status_code == 409


def test_no_js_card_menu_moves_and_comes_back(client, lifecycle, developer, manager):
    client.force_login(developer)
    url = reverse("project_board", args=["WEB"]) + "?owner=me"
    html = client.get(url).text
    card = column(html, "assigned")
    assert '<details class="card-menu' in card
    action = reverse("board_move", args=[lifecycle["assigned"].key, "revise"])
    assert f'form="board-move-form" formaction="{action}"' in card
    assert 'name="start-expected_status" value="assigned"' in card
    move_form = re.search(r'<form method="post" id="board-move-form".*?</form>', html, re.S).group(
        0
    )
    assert 'name="csrfmiddlewaretoken"' in move_form and f'name="next" value="{url}"' in move_form
    # A plain form post: back to the same board with a message.
    response = client.post(action, {"start-expected_status": "assigned", "next": url}, follow=True)
    assert response.redirect_chain[-1][0] == url
    assert f"{lifecycle['assigned'].key} is now Revise." in response.text
    # A move with fields: a link to its form page, which posts back and returns to the board.
    html = client.get(url).text
    revise_card = column(html, "revise")
    link = re.search(r'<a class="btn[^"]*" href="([^"]+)" data-move-to="retest"', revise_card)
    page = client.get(link.group(1).replace("&amp;", "&"))
    assert page.status_code == 200 and "<html" in page.text
    assert 'name="submit-fix_summary"' in page.text
    issue = lifecycle["revise"]
    missing = client.post(
        reverse("board_move", args=[issue.key, "retest"]),
        {"submit-expected_status": "revise", "next": url},
    )
    assert missing.status_code == 400 and "This field is required" in missing.text
    response = client.post(
        reverse("board_move", args=[issue.key, "retest"]),
        {"submit-expected_status": "revise", "submit-fix_summary": "Done", "next": url},
    )
    assert response.status_code == 302 and response["Location"] == url
    # Refused without JS: the page says why, with the status code.
    stale = client.post(
        reverse("board_move", args=[issue.key, "retest"]),
        {"submit-expected_status": "revise", "submit-fix_summary": "Again", "next": url},
    )
    assert stale.status_code == 409 and "was moved to Retest by developer" in stale.text


def test_next_never_leaves_the_site(client, lifecycle, developer):
    client.force_login(developer)
    response = client.post(
        reverse("board_move", args=[lifecycle["assigned"].key, "revise"]),
        {"start-expected_status": "assigned", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("project_board", args=["WEB"])


# --- polling --------------------------------------------------------------------------------
def test_poll_answers_304_after_one_cheap_query(
    client, lifecycle, manager, developer, django_assert_num_queries
):
    client.force_login(manager)
    first = client.get(reverse("project_board", args=["WEB"]), **HX)
    assert first.status_code == 200 and "<html" not in first.text
    etag = first["ETag"]
    # session, user, visible projects, the fingerprint
    with django_assert_num_queries(4):
        same = client.get(reverse("project_board", args=["WEB"]), HTTP_IF_NONE_MATCH=etag, **HX)
    assert same.status_code == 304
    since = client.get(
        reverse("project_board", args=["WEB"]),
        HTTP_IF_MODIFIED_SINCE=first["Last-Modified"],
        **HX,
    )
    assert since.status_code == 304
    transition_issue(lifecycle["new"], Status.ASSIGNED, actor=manager, owner=developer.pk)
    changed = client.get(reverse("project_board", args=["WEB"]), HTTP_IF_NONE_MATCH=etag, **HX)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert lifecycle["new"].key in keys(column(changed.text, "assigned"))
    old = http_date(timezone.now().timestamp() - 3600)
    assert (
        client.get(
            reverse("project_board", args=["WEB"]), HTTP_IF_MODIFIED_SINCE=old, **HX
        ).status_code
        == 200
    )
    # A comment and a WIP limit change the board too.
    etag = changed["ETag"]
    add_comment(lifecycle["revise"], author=manager, body="ping")
    again = client.get(reverse("project_board", args=["WEB"]), HTTP_IF_NONE_MATCH=etag, **HX)
    assert again.status_code == 200
    etag = again["ETag"]
    client.post(reverse("board_limits", args=["WEB"]), {"new": 3})
    limited = client.get(reverse("project_board", args=["WEB"]), HTTP_IF_NONE_MATCH=etag, **HX)
    assert limited.status_code == 200 and "/ 3" in head(limited.text, "new")
    # The full page is never answered from a cache (it shows one-time messages).
    assert client.get(reverse("project_board", args=["WEB"]))["Cache-Control"] == "no-store"


# --- access ---------------------------------------------------------------------------------
def test_reporter_board_never_shows_another_projects_cards(
    client, lifecycle, other_project, outsider, reporter
):
    secret = make_issue(other_project, outsider, title="Secret outage in payments")
    client.force_login(reporter)
    for params in ({}, {"project": other_project.pk}, {"q": "Secret"}, {"lanes": "owner"}):
        html = board(client, key=None, **params).text
        assert "Secret outage" not in html and secret.key not in html
    assert board(client, key="OPS").status_code == 404
    assert board(client, key="OPS", **HX).status_code == 404
    assert move(client, secret, "assigned").status_code == 404
    assert client.get(reverse("board_move", args=[secret.key, "assigned"])).status_code == 404
    assert client.get(reverse("board_limits", args=["OPS"])).status_code == 404
    # The cross-project board of a member of both shows both.
    html = board(client, key=None).text
    assert lifecycle["new"].key in html


def test_anonymous_is_sent_to_login(client, project):
    for url in (
        reverse("board"),
        reverse("project_board", args=["WEB"]),
        reverse("board_limits", args=["WEB"]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_finished_cards_show_the_cycles_outcome(client, lifecycle, tester, manager):
    issue = lifecycle["retest"]
    transition_issue(issue, Status.FIXED, actor=tester)
    client.force_login(manager)
    card = column(board(client).text, "fixed")
    assert keys(card) == [issue.key]
    assert "SLA met" in card
