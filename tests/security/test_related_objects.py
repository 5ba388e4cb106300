"""The related-object rule, property-tested: random memberships, random links across three
projects made and removed by random people, looked at by a random person.

Expected, whatever hypothesis draws:
- a link is made only by someone who may change both issues (a member of both projects);
  a refused one writes nothing (no link, no activity record on either issue);
- the issue page and the API name the other end of a link (key and title) exactly when the
  viewer is a member of its project, and show "a linked issue in a project you cannot see"
  otherwise; the activity never names an issue of a project the viewer is not in;
- removing a link: done by a member of both projects; refused (403, nothing written) for a
  member of one; 404 for a member of neither.

The expectations are computed from the drawn memberships, not from the selectors under test.
"""

import re

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.services import create_api_token
from issues.models import IssueEvent, IssueLink, LinkKind
from issues.selectors import HIDDEN_LINKED_ISSUE
from issues.services import IssueAccessError, IssueError, link_issues
from projects.models import Membership, Role
from tests.factories import ProjectFactory, UserFactory, make_issue

pytestmark = pytest.mark.django_db

PROJECTS = ("ALPHA", "BETA", "GAMMA")
PEOPLE = ("ann", "bob", "cyd")
ISSUES_PER_PROJECT = 2

memberships = st.fixed_dictionaries(
    {
        person: st.dictionaries(
            st.sampled_from(PROJECTS), st.sampled_from(list(Role.values)), max_size=3
        )
        for person in PEOPLE
    }
)
issue_index = st.integers(0, len(PROJECTS) * ISSUES_PER_PROJECT - 1)
link_attempts = st.lists(
    st.tuples(st.sampled_from(PEOPLE), issue_index, issue_index, st.sampled_from(LinkKind.values)),
    max_size=6,
)
removals = st.lists(st.tuples(st.sampled_from(PEOPLE), st.integers(0, 50)), max_size=3)


class _Rollback(Exception):
    pass


@pytest.fixture
def cast(db):
    """Three projects with two issues each (a unique title word per issue) and three people
    whose memberships each example draws afresh."""
    filer = UserFactory(username="filer", is_staff=True)
    issues = []
    for key in PROJECTS:
        project = ProjectFactory(key=key, name=f"Project {key}")
        for n in range(ISSUES_PER_PROJECT):
            issues.append(make_issue(project, filer, title=f"Quokka{key}{n} broken"))
    people = {name: UserFactory(username=name) for name in PEOPLE}
    tokens = {name: create_api_token(user, name="prop")[1] for name, user in people.items()}
    return issues, people, tokens


def _names_key(text: str, key: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(key)}(?!\d)", text) is not None


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    member_of=memberships,
    attempts=link_attempts,
    viewer=st.sampled_from(PEOPLE),
    removing=removals,
)
def test_links_name_only_what_the_viewer_may_see(cast, member_of, attempts, viewer, removing):
    issues, people, tokens = cast
    try:
        with transaction.atomic():
            _example(issues, people, tokens, member_of, attempts, viewer, removing)
            raise _Rollback
    except _Rollback:
        pass


def _example(issues, people, tokens, member_of, attempts, viewer, removing):
    for name, roles in member_of.items():
        for key, role in roles.items():
            Membership.objects.create(
                project=next(i.project for i in issues if i.project.key == key),
                user=people[name],
                role=role,
            )

    def sees(name: str, issue) -> bool:
        return issue.project.key in member_of[name]

    # Making links: allowed exactly for a member of both projects; refusals write nothing.
    for name, a, b, kind in attempts:
        source, target = issues[a], issues[b]
        rows = (IssueLink.objects.count(), IssueEvent.objects.count())
        try:
            link_issues(source, target=target, kind=kind, actor=people[name])
        except IssueAccessError:
            assert source != target
            assert not (sees(name, source) and sees(name, target)), (name, source, target)
            assert (IssueLink.objects.count(), IssueEvent.objects.count()) == rows
        except IssueError:
            assert (IssueLink.objects.count(), IssueEvent.objects.count()) == rows
        else:
            assert sees(name, source) and sees(name, target), (name, source, target)

    # Looking: every issue the viewer may see, on the page and through the API.
    client = Client()
    client.force_login(people[viewer])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens[viewer]}"}
    hidden_titles = [i.title for i in issues if not sees(viewer, i)]
    for issue in issues:
        others = [
            link.target if link.source_id == issue.pk else link.source
            for link in IssueLink.objects.filter(source=issue)
            | IssueLink.objects.filter(target=issue)
        ]
        if not others or not sees(viewer, issue):
            continue  # the page's own object: the access matrix checks it
        page = client.get(issue.get_absolute_url()).text
        for title in hidden_titles:
            assert title not in page, f"{viewer} reads “{title}” on {issue.key}"
        api = client.get(f"/api/v1/issues/{issue.key}/links", **auth).json()
        assert len(api) == len(others)
        hidden = [other for other in others if not sees(viewer, other)]
        for other in others:
            if sees(viewer, other):
                assert other.title in page and _names_key(page, other.key)
            else:
                assert not _names_key(page, other.key), f"{viewer} sees {other.key}"
        assert page.count(HIDDEN_LINKED_ISSUE) == len(hidden)
        assert sorted(row["issue"]["key"] for row in api if not row["hidden"]) == sorted(
            other.key for other in others if sees(viewer, other)
        )
        assert all(row["issue"] is None for row in api if row["hidden"])

    # Removing: a member of both ends removes; of one end is refused; of neither gets 404.
    links = list(IssueLink.objects.select_related("source__project", "target__project"))
    for name, pick in removing:
        if not links:
            break
        link = links[pick % len(links)]
        end = link.source if sees(name, link.source) else link.target
        client.force_login(people[name])
        events = IssueEvent.objects.filter(issue__in=[link.source, link.target]).count()
        answer = client.post(f"/issues/{end.key}/links/{link.pk}/delete/")
        both = sees(name, link.source) and sees(name, link.target)
        if both:
            assert answer.status_code == 302
            links.remove(link)
        else:
            assert answer.status_code == (403 if sees(name, end) else 404), (name, link)
            assert IssueEvent.objects.filter(issue__in=[link.source, link.target]).count() == (
                events
            )
        assert IssueLink.objects.filter(pk=link.pk).exists() is not both
