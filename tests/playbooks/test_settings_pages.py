"""Managers edit templates and playbooks on the project's settings pages, with a preview."""

import pytest
from django.urls import reverse

from issues.models import IssueType
from playbooks.models import TemplateVersion
from projects.services import create_component

pytestmark = pytest.mark.django_db

FORM = {
    "description": "## Steps to reproduce\n\n**bold**",
    "playbook_name": "Security response",
    "items": "* Rotate affected credentials\nNotify the DPO within 72 h",
    "complete_before": "fixed",
    "complete_min_severity": "4",
}


def _url(project, type_=IssueType.SECURITY):
    return reverse("template_edit", args=[project.key, type_])


def test_preview_renders_markdown_and_checklist_and_saves_nothing(client, project, manager):
    client.force_login(manager)
    page = client.post(_url(project), {**FORM, "preview": "1"}).content.decode()
    assert "<strong>bold</strong>" in page and "Preview (not saved)" in page
    assert 'Rotate affected credentials <span class="badge text-bg-warning">required' in page
    assert not TemplateVersion.objects.exists()


def test_save_makes_versions(client, project, manager):
    client.force_login(manager)
    assert client.post(_url(project), FORM).status_code == 302
    assert client.post(_url(project), {**FORM, "items": "Only one"}).status_code == 302
    versions = TemplateVersion.objects.order_by("number")
    assert [v.number for v in versions] == [1, 2]
    first = versions[0]
    assert [(i.text, i.required) for i in first.items.all()] == [
        ("Rotate affected credentials", True),
        ("Notify the DPO within 72 h", False),
    ]
    listing = client.get(reverse("template_list", args=[project.key])).content.decode()
    assert "v2" in listing and "Security response" in listing


def test_bad_input_is_shown_and_nothing_saved(client, project, manager):
    client.force_login(manager)
    response = client.post(_url(project), {**FORM, "labels": "no-such-label"})
    assert response.status_code == 400
    assert "No label “no-such-label” in" in response.content.decode()
    response = client.post(_url(project), {**FORM, "items": "", "priority": "7"})
    assert response.status_code == 400
    assert not TemplateVersion.objects.exists()


def test_access(client, project, other_project, developer, outsider, manager):
    client.force_login(manager)
    client.post(_url(project), FORM)
    client.force_login(developer)
    assert client.get(_url(project)).status_code == 403
    assert client.post(_url(project), FORM).status_code == 403
    client.force_login(outsider)
    assert client.get(_url(project)).status_code == 404
    assert client.get(reverse("template_list", args=[project.key])).status_code == 404
    assert TemplateVersion.objects.count() == 1


def test_the_default_component_is_chosen_from_the_projects_own(
    client, project, other_project, manager, outsider
):
    ours = create_component(project, actor=manager, name="Checkout")
    theirs = create_component(other_project, actor=outsider, name="Their billing")
    client.force_login(manager)
    page = client.get(_url(project)).content.decode()
    assert f'<option value="{ours.pk}">Checkout</option>' in page
    assert "Their billing" not in page
    # Another project's id, posted by hand: refused on the field, nothing saved.
    response = client.post(_url(project), {**FORM, "default_component_id": str(theirs.pk)})
    assert response.status_code == 400
    assert not TemplateVersion.objects.exists()
    assert (
        client.post(_url(project), {**FORM, "default_component_id": str(ours.pk)}).status_code
        == 302
    )
    assert TemplateVersion.objects.get().default_component_id == ours.pk
