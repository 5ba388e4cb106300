import pytest
from django.urls import reverse

from notifications.models import Kind, Mode, Notification, NotificationPreference
from tests.factories import make_issue

pytestmark = pytest.mark.django_db


def _note(user, issue, summary="WEB-1 assigned to you", kind=Kind.ASSIGNED, **kw):
    return Notification.objects.create(
        recipient=user, issue=issue, kind=kind, summary=summary, **kw
    )


def test_inbox_lists_my_notifications_and_the_bell_counts_unread(
    client, project, developer, reporter, outsider, django_assert_num_queries
):
    issue = make_issue(project, reporter)
    for i in range(3):
        _note(developer, issue, summary=f"Update {i}")
    _note(outsider, None, summary="Not for you", kind=Kind.DAILY_DIGEST)
    client.force_login(developer)
    client.get(reverse("notification_inbox"))  # warm the session
    with django_assert_num_queries(7):
        response = client.get(reverse("notification_inbox"))
    page = response.content.decode()
    assert "<title>Notifications (3 unread) · Resolve</title>" in page
    assert "Update 0" in page and "Update 2" in page and "Not for you" not in page
    assert 'data-unread="3"' in page


def test_open_marks_read_and_goes_to_the_issue(client, project, developer, reporter):
    issue = make_issue(project, reporter)
    note = _note(developer, issue)
    client.force_login(developer)
    response = client.post(reverse("notification_open", args=[note.pk]))
    assert response.status_code == 302 and response.url == issue.get_absolute_url()
    note.refresh_from_db()
    assert note.read_at is not None
    assert "data-unread" not in client.get(reverse("notification_inbox")).content.decode()


def test_mark_read_and_mark_all_read(client, project, developer, reporter):
    issue = make_issue(project, reporter)
    a, b, c = (_note(developer, issue, summary=s) for s in "abc")
    client.force_login(developer)
    client.post(reverse("notification_read", args=[a.pk]))
    assert Notification.objects.filter(read_at__isnull=True).count() == 2
    response = client.post(reverse("notification_read_all"), follow=True)
    assert "Marked 2 notifications as read." in response.content.decode()
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_someone_elses_notification_is_404(client, project, developer, tester, reporter):
    note = _note(developer, make_issue(project, reporter))
    client.force_login(tester)
    assert client.post(reverse("notification_read", args=[note.pk])).status_code == 404
    assert client.get(reverse("notification_read", args=[note.pk])).status_code == 405


def test_preferences_page_saves_and_refuses_bad_input(client, developer):
    client.force_login(developer)
    page = client.get(reverse("notification_preferences")).content.decode()
    assert "Always emailed immediately" in page and "SLA breached" in page
    response = client.post(
        reverse("notification_preferences"),
        {
            "status_changed": "digest",
            "commented": "off",
            "sla_at_risk": "inbox",
            "daily_digest": "off",
        },
        follow=True,
    )
    assert "Notification preferences saved." in response.content.decode()
    assert dict(NotificationPreference.objects.values_list("kind", "mode")) == {
        "status_changed": Mode.DIGEST,
        "commented": Mode.OFF,
        "sla_at_risk": Mode.INBOX,
        "daily_digest": Mode.OFF,
    }
    response = client.post(
        reverse("notification_preferences"),
        {
            "status_changed": "loud",
            "commented": "off",
            "sla_at_risk": "inbox",
            "daily_digest": "digest",
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "is-invalid" in body and "Select a valid choice" in body
    assert NotificationPreference.objects.get(kind="status_changed").mode == Mode.DIGEST


def test_login_required(client):
    response = client.get(reverse("notification_inbox"))
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_the_bell_is_the_markup_of_its_template(client, project, developer, reporter):
    """The bell is written in Python (it is on every page): the same HTML as
    notifications/_bell.html, with and without unread notifications."""
    from django.template.loader import render_to_string

    client.force_login(developer)
    issue = make_issue(project, reporter)
    for unread in (0, 2):
        if unread:
            _note(developer, issue)
            _note(developer, issue, summary="Another")
        page = client.get(reverse("project_list")).content.decode()
        expected = render_to_string("notifications/_bell.html", {"unread": unread, "request": None})
        assert expected in page
