"""Components and versions of a project: the services (Managers only, bad input refused and
nothing saved) and the settings pages (members read, Managers change, others 404)."""

import pytest
from django.urls import reverse

from projects.models import Component, Version
from projects.services import (
    ProjectShapeError,
    create_component,
    create_version,
    update_component,
    update_version,
)
from tests.factories import make_issue

pytestmark = pytest.mark.django_db


def test_a_manager_creates_edits_and_archives_a_component(project, manager, developer, team):
    component = create_component(
        project, actor=manager, name=" Checkout ", lead=developer, default_team=team
    )
    assert (component.name, component.lead, component.default_team) == (
        "Checkout",
        developer,
        team,
    )
    update_component(
        component,
        actor=manager,
        name="Checkout & cart",
        description="Cart and payment",
        lead=None,
        default_team=team,
        archived=True,
    )
    component.refresh_from_db()
    assert component.name == "Checkout & cart" and component.archived
    assert list(project.components.active()) == []


@pytest.mark.parametrize(
    "name,message",
    [("", "Give the component a name."), ("x" * 81, "at most 80")],
)
def test_bad_component_names_are_refused(project, manager, name, message):
    with pytest.raises(ProjectShapeError, match=message):
        create_component(project, actor=manager, name=name)
    assert not Component.objects.exists()


def test_component_names_are_unique_per_project_only(project, other_project, manager, outsider):
    create_component(project, actor=manager, name="Search")
    with pytest.raises(ProjectShapeError, match="already has a component called “Search”"):
        create_component(project, actor=manager, name="Search")
    create_component(other_project, actor=outsider, name="Search")
    assert Component.objects.count() == 2


def test_only_managers_change_components_and_leads_are_members(
    project, manager, developer, outsider
):
    with pytest.raises(ProjectShapeError, match="Only Managers"):
        create_component(project, actor=developer, name="Search")
    with pytest.raises(ProjectShapeError, match="The lead must be a member of WEB"):
        create_component(project, actor=manager, name="Search", lead=outsider)
    assert not Component.objects.exists()


def test_versions_are_unique_and_managers_only(project, manager, developer):
    version = create_version(project, actor=manager, name="2.5")
    with pytest.raises(ProjectShapeError, match="already has a version"):
        create_version(project, actor=manager, name="2.5")
    with pytest.raises(ProjectShapeError, match="Only Managers"):
        update_version(version, actor=developer, name="2.6", due_date=None, released=True)
    version.refresh_from_db()
    assert (version.name, version.released) == ("2.5", False)


# --- pages ------------------------------------------------------------------------------------


def test_manager_adds_a_component_on_the_settings_page(client, project, manager, developer):
    client.force_login(manager)
    url = reverse("project_components", args=[project.key])
    response = client.post(url, {"name": "Checkout", "lead": developer.pk}, follow=True)
    assert "Component “Checkout” added." in response.content.decode()
    assert Component.objects.get(project=project).lead == developer
    # Bad input: the error next to the field, nothing saved.
    response = client.post(url, {"name": "Checkout"})
    assert response.status_code == 400
    assert "WEB already has a component called “Checkout”." in response.content.decode()
    assert Component.objects.count() == 1


def test_manager_edits_and_archives_on_the_pages(client, project, manager, team):
    component = create_component(project, actor=manager, name="Search")
    client.force_login(manager)
    edit = reverse("project_component_edit", args=[project.key, component.pk])
    assert client.get(edit).status_code == 200
    response = client.post(edit, {"name": "Search & browse", "default_team": team.pk})
    assert response.status_code == 302
    component.refresh_from_db()
    assert (component.name, component.default_team) == ("Search & browse", team)
    response = client.post(edit, {"name": ""})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    archive = reverse("project_component_archive", args=[project.key, component.pk])
    client.post(archive, {"archived": "1"})
    component.refresh_from_db()
    assert component.archived
    page = client.get(reverse("project_components", args=[project.key])).content.decode()
    assert "archived" in page and "Restore" in page


def test_members_read_components_but_only_managers_change_them(client, project, manager, developer):
    component = create_component(project, actor=manager, name="Search")
    client.force_login(developer)
    page = client.get(reverse("project_components", args=[project.key]))
    assert page.status_code == 200 and "Search" in page.content.decode()
    assert "Add a component" not in page.content.decode()
    assert (
        client.post(reverse("project_components", args=[project.key]), {"name": "X"}).status_code
        == 403
    )
    edit = reverse("project_component_edit", args=[project.key, component.pk])
    assert client.get(edit).status_code == 403
    assert Component.objects.count() == 1


def test_a_member_of_another_project_gets_404_and_sees_nothing(client, project, manager, outsider):
    component = create_component(project, actor=manager, name="Secret payments")
    version = create_version(project, actor=manager, name="9.9-secret")
    client.force_login(outsider)
    for url in (
        reverse("project_components", args=[project.key]),
        reverse("project_component_edit", args=[project.key, component.pk]),
        reverse("project_versions", args=[project.key]),
        reverse("project_version_edit", args=[project.key, version.pk]),
        reverse("version_detail", args=[project.key, version.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Secret payments" not in response.content.decode()
    assert (
        client.post(reverse("project_components", args=[project.key]), {"name": "X"}).status_code
        == 404
    )
    # Nor in the list's filter bar or the new-issue form.
    for url in (reverse("issue_list"), reverse("issue_new")):
        body = client.get(url).content.decode()
        assert "Secret payments" not in body and "9.9-secret" not in body


def test_versions_page_lists_and_links_them(client, project, manager, developer):
    client.force_login(manager)
    url = reverse("project_versions", args=[project.key])
    response = client.post(url, {"name": "2.5", "due_date": "2026-12-24"})
    assert response.status_code == 302
    version = Version.objects.get()
    page = client.get(url).content.decode()
    assert reverse("version_detail", args=[project.key, version.pk]) in page
    assert client.post(url, {"name": "2.6", "due_date": "not a date"}).status_code == 400
    assert Version.objects.count() == 1
    detail = client.get(reverse("project_detail", args=[project.key])).content.decode()
    assert reverse("project_versions", args=[project.key]) in detail
    assert reverse("project_components", args=[project.key]) in detail
    edit = reverse("project_version_edit", args=[project.key, version.pk])
    client.post(edit, {"name": "2.5.0", "due_date": "2026-12-24", "released": "on"})
    version.refresh_from_db()
    assert (version.name, version.released) == ("2.5.0", True)
    client.force_login(developer)
    assert client.get(edit).status_code == 403


def test_archived_component_is_kept_on_its_issues(project, manager, reporter):
    component = create_component(project, actor=manager, name="Legacy")
    issue = make_issue(project, reporter, component=component)
    update_component(
        component,
        actor=manager,
        name="Legacy",
        description="",
        lead=None,
        default_team=None,
        archived=True,
    )
    issue.refresh_from_db()
    assert issue.component == component
