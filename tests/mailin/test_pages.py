"""The project's mail page: managers add addresses, choose who may file, release or discard
quarantined mail; nobody else sees it."""

import pytest
from django.urls import reverse

from issues.models import Issue
from mailin import services
from mailin.models import MailAddress, MailStatus
from tests.factories import PASSWORD

from .conftest import build

pytestmark = pytest.mark.django_db


def _login(client, user):
    client.login(username=user.username, password=PASSWORD)


def test_manager_adds_an_address_with_defaults(client, manager, project):
    _login(client, manager)
    url = reverse("mail_settings", args=[project.key])
    response = client.post(
        url, {"address": "Resolve+WEB@Example.com", "type": "task", "priority": 3, "severity": 4}
    )
    assert response.status_code == 302
    row = MailAddress.objects.get()
    assert (row.address, row.type, row.priority, row.severity) == (
        "resolve+web@example.com",
        "task",
        3,
        4,
    )
    page = client.get(url)
    assert "resolve+web@example.com" in page.content.decode()


def test_duplicate_or_reply_address_is_refused_with_a_message(client, manager, project, address):
    _login(client, manager)
    url = reverse("mail_settings", args=[project.key])
    response = client.post(
        url, {"address": address.address, "type": "bug", "priority": 2, "severity": 2}
    )
    assert response.status_code == 400
    assert "already used by this project" in response.content.decode()
    response = client.post(
        url, {"address": "reply@127.0.0.1", "type": "bug", "priority": 2, "severity": 2}
    )
    assert response.status_code == 400
    assert MailAddress.objects.count() == 1


@pytest.mark.parametrize("persona", ["developer", "reporter", "outsider"])
def test_only_managers_see_the_page(client, project, address, persona, request):
    user = request.getfixturevalue(persona)
    _login(client, user)
    response = client.get(reverse("mail_settings", args=[project.key]))
    assert response.status_code == (404 if persona == "outsider" else 403)


def test_release_files_the_issue_and_discard_drops_it(
    client, manager, project, address, django_assert_max_num_queries
):
    for n in range(3):
        services.ingest(
            build(sender=f"s{n}@else.example", subject=f"Stranger {n}"), transport="smtp"
        )
    _login(client, manager)
    url = reverse("mail_settings", args=[project.key])
    with django_assert_max_num_queries(12):
        page = client.get(url)
    html = page.content.decode()
    assert "Stranger 2" in html and "is not a member of project WEB" in html
    first, second, third = project.mail_messages.order_by("pk")
    response = client.post(
        reverse("mail_quarantine_action", args=[project.key, first.pk]), {"action": "release"}
    )
    assert response.status_code == 302
    issue = Issue.objects.get()
    assert issue.title == "Stranger 0" and issue.reporter == manager
    client.post(
        reverse("mail_quarantine_action", args=[project.key, second.pk]), {"action": "discard"}
    )
    second.refresh_from_db()
    assert second.status == MailStatus.DISCARDED and bytes(second.raw) == b""
    # Handled already: a second click changes nothing.
    client.post(
        reverse("mail_quarantine_action", args=[project.key, first.pk]), {"action": "release"}
    )
    assert Issue.objects.count() == 1
    raw = client.get(reverse("mail_raw", args=[project.key, third.pk]))
    assert raw["Content-Disposition"].startswith("attachment")
    assert b"Stranger 2" in raw.content
    detail = client.get(issue.get_absolute_url()).content.decode()
    assert "by e-mail from s0@else.example" in detail


def test_demo_data_has_an_issue_that_came_by_email(settings):
    from django.core.management import call_command

    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo_mail")
    call_command("seed_demo_mail")
    filed = Issue.objects.filter(title="Order confirmation e-mail never arrives")
    assert filed.count() == 1
    assert (
        filed.get().events.get(kind="created").data["source"] == "e-mail from reporter@example.com"
    )
    assert MailAddress.objects.filter(address="web-support@example.com").exists()
