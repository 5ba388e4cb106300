"""The list's people boxes (typed or picked, never a list of every member), the endpoint they
ask, and the bounds on what a search ranks and counts."""

import pytest
from django.urls import reverse

from issues import selectors
from issues.models import IssueEvent
from projects.models import Membership, Role
from tests.factories import UserFactory, make_issue

pytestmark = pytest.mark.django_db


def _keys(response) -> list[str]:
    return [issue.key for issue in response.context["page"].object_list]


def test_people_endpoint_offers_only_members_of_your_projects(
    client, project, reporter, developer, outsider
):
    namesake = UserFactory(username="devon", display_name="Devon Dev")
    Membership.objects.create(project=project, user=namesake, role=Role.TESTER)
    client.force_login(reporter)
    people = client.get(reverse("people_search"), {"q": "dev"}).json()
    values = [p["value"] for p in people]
    # Usernames starting with the text first; names count too.
    assert values == ["developer", "devon"]
    assert people[1]["text"] == "devon · Devon Dev"
    everyone = [p["value"] for p in client.get(reverse("people_search")).json()]
    assert outsider.username not in everyone
    assert client.get(reverse("people_search"), {"q": outsider.username}).json() == []
    client.logout()
    assert client.get(reverse("people_search")).status_code == 302  # to the login page


def test_people_endpoint_answers_at_most_twenty(client, project, reporter):
    for n in range(30):
        Membership.objects.create(
            project=project, user=UserFactory(username=f"crew{n:02d}"), role=Role.DEVELOPER
        )
    client.force_login(reporter)
    assert len(client.get(reverse("people_search"), {"q": "crew"}).json()) == 20


def test_list_lists_no_members_and_filters_by_typed_username(client, project, reporter, developer):
    # Owners are Developers (projects.selectors.OWNER_ROLES): a second one owns the other issue.
    other = UserFactory(username="devon")
    Membership.objects.create(project=project, user=other, role=Role.DEVELOPER)
    quiet = UserFactory(username="quinn-the-quiet")  # a member who owns and filed nothing
    Membership.objects.create(project=project, user=quiet, role=Role.TESTER)
    mine = make_issue(project, reporter, owner=developer, title="Owned by the developer")
    make_issue(project, reporter, owner=other, title="Owned by another developer")
    client.force_login(reporter)
    page = client.get(reverse("issue_list"))
    body = page.text
    assert "<option" not in body[body.index('id="id_owner"') - 200 : body.index('id="id_owner"')]
    assert quiet.username not in body  # no member list anywhere on the page
    assert 'data-people-picker="/projects/people.json"' in body
    # Without JavaScript the box takes a typed username; older links with an id still work.
    by_name = client.get(reverse("issue_list"), {"owner": developer.username})
    assert _keys(by_name) == [mine.key]
    assert "Owner: developer" in by_name.text  # the chip names the person
    assert _keys(client.get(reverse("issue_list"), {"owner": str(developer.pk)})) == [mine.key]
    assert _keys(client.get(reverse("issue_list"), {"reporter": "ME"})) != []


def test_an_unknown_or_foreign_person_is_a_clear_error(client, project, reporter, outsider):
    make_issue(project, reporter)
    client.force_login(reporter)
    for value in ("nobody-here", outsider.username, str(outsider.pk)):
        response = client.get(reverse("issue_list"), {"owner": value})
        assert response.status_code == 200
        assert _keys(response) == []
        assert "Nobody called" in response.text


def test_bulk_owner_is_typed_or_picked_and_refuses_strangers(
    client, project, reporter, developer, outsider
):
    issue = make_issue(project, reporter)
    client.force_login(developer)
    client.post(reverse("issue_bulk"), {"issues": [issue.pk], "owner": "developer"})
    issue.refresh_from_db()
    assert issue.owner == developer
    response = client.post(
        reverse("issue_bulk"),
        {"issues": [issue.pk], "owner": outsider.username, "priority": 3},
        follow=True,
    )
    assert "Nothing was changed. Nobody called" in response.text
    issue.refresh_from_db()
    assert (issue.owner, issue.priority) == (developer, 2)
    client.post(reverse("issue_bulk"), {"issues": [issue.pk], "owner": "unassigned"})
    issue.refresh_from_db()
    assert issue.owner is None
    assert IssueEvent.objects.filter(issue=issue, field="owner").count() == 2


@pytest.mark.postgres
def test_search_ranks_and_counts_only_the_newest_matches(client, project, reporter, monkeypatch):
    monkeypatch.setattr(selectors, "SEARCH_CANDIDATES", 3)
    old_strong = make_issue(project, reporter, title="Checkout checkout checkout")
    weak = [
        make_issue(project, reporter, title=f"Cart {n}", description="checkout") for n in range(3)
    ]
    strong = make_issue(project, reporter, title="Checkout fails at checkout")
    make_issue(project, reporter, title="Unrelated")
    client.force_login(reporter)
    response = client.get(reverse("issue_list"), {"q": "checkout", "per_page": 25})
    assert "More than 3 issues" in response.text
    keys = _keys(response)
    # The newest 3 (+1, to know there are more) matches, best rank first; every one matches.
    assert keys[0] == strong.key
    assert old_strong.key not in keys
    assert set(keys) <= {strong.key, *(w.key for w in weak)}
    # Sorted explicitly, a search still counts only up to the bound.
    sorted_ = client.get(reverse("issue_list"), {"q": "checkout", "sort": "created"})
    assert "More than 3 issues" in sorted_.text
    # Below the bound: every match, exact order and count.
    monkeypatch.setattr(selectors, "SEARCH_CANDIDATES", 1000)
    full = client.get(reverse("issue_list"), {"q": "checkout"})
    assert "5 issues" in full.text
    assert set(_keys(full)) == {strong.key, old_strong.key, *(w.key for w in weak)}
