"""accounts.compiled: a read compiled once gives what its queryset gives, for every value."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.compiled import CompiledRead
from issues.models import Issue
from projects.models import Membership, Project
from tests.factories import ProjectFactory, UserFactory, make_issue

pytestmark = pytest.mark.django_db


def _issues(project_ids, since):
    return (
        Issue.objects.filter(project_id__in=project_ids, updated_at__gte=since)
        .select_related("project", "owner")
        .order_by("-updated_at", "-pk")
    )


ISSUES = CompiledRead(_issues)


def _member_names(user_id, role):
    return (
        Membership.objects.filter(user_id=user_id, role=role)
        .order_by("project__key")
        .values_list("project__key", "project__name")
    )


NAMES = CompiledRead(_member_names)


def _make(project, n, **kwargs):
    reporter = UserFactory()
    Membership.objects.create(project=project, user=reporter, role="reporter")
    return [make_issue(project, reporter, title=f"Issue {i}", **kwargs) for i in range(n)]


def test_rows_are_the_querysets_rows_for_each_binding(project, other_project, developer):
    _make(project, 3, owner=developer)
    _make(other_project, 2)
    past = timezone.now() - timedelta(days=1)
    future = timezone.now() + timedelta(days=1)
    for ids, since in (
        ((project.pk,), past),
        ((project.pk, other_project.pk), past),
        ((other_project.pk, project.pk), past),
        ((project.pk,), future),
        ((), past),
    ):
        expected = list(_issues(list(ids), since))
        got = ISSUES.rows(ids, since)
        assert [i.pk for i in got] == [i.pk for i in expected]
        for mine, theirs in zip(got, expected, strict=True):
            assert mine.__dict__.keys() == theirs.__dict__.keys()
            assert mine.title == theirs.title and mine.updated_at == theirs.updated_at
            assert mine.project.key == theirs.project.key  # joined: no query
            assert (mine.owner and mine.owner.username) == (theirs.owner and theirs.owner.username)
        assert ISSUES.count(ids, since) == len(expected)


def test_joined_rows_need_no_further_query(project, developer, django_assert_num_queries):
    _make(project, 2, owner=developer)
    ISSUES.rows((project.pk,), timezone.now() - timedelta(days=1))  # compiled
    with django_assert_num_queries(1):
        rows = ISSUES.rows((project.pk,), timezone.now() - timedelta(days=1))
        assert [r.project.key for r in rows] == [project.key, project.key]
        assert {r.owner.username for r in rows} == {developer.username}


def test_values_and_strings(project, developer, manager):
    second = ProjectFactory(key="ZED", name="Zed")
    Membership.objects.create(project=second, user=developer, role="developer")
    assert NAMES.rows(developer.pk, "developer") == [(project.key, project.name), ("ZED", "Zed")]
    assert NAMES.rows(manager.pk, "manager") == [(project.key, project.name)]
    assert NAMES.rows(manager.pk, "developer") == []
    assert NAMES.first(developer.pk, "developer") == (project.key, project.name)


def test_a_value_folded_into_the_sql_is_refused(db):
    sliced = CompiledRead(lambda n: Project.objects.all()[:n])
    with pytest.raises(TypeError):
        sliced.rows(True)
    with pytest.raises((ValueError, TypeError)):
        sliced.rows(3)


def test_a_32_bit_column_is_read_not_silently_empty(project, developer):
    # Issue.number is a 32-bit integer: a placeholder out of its range made the ORM compile an
    # empty result, and the read answered "no such issue" for every key.
    first, second = make_issue(project, developer), make_issue(project, developer)
    by_number = CompiledRead(
        lambda key, number: Issue.objects.filter(project__key=key, number=number)
    )
    assert [i.pk for i in by_number.rows(project.key, first.number)] == [first.pk]
    assert [i.pk for i in by_number.rows(project.key, second.number)] == [second.pk]
    assert by_number.rows(project.key, 999_999) == []
