"""One rule for "which time zone does this user see": the pages (the middleware) and the
security notice email show the zone `accounts.timezones.user_zone` names, for a valid zone,
none chosen and a name the machine does not know (UTC, never an error)."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.test import RequestFactory
from django.utils import timezone

from accounts.middleware import UserTimezoneMiddleware
from accounts.services import send_security_notice
from accounts.timezones import user_zone

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)


def _zone_a_page_sees(user) -> str:
    seen = []

    def view(request):
        seen.append(timezone.get_current_timezone_name())
        return None

    request = RequestFactory().get("/")
    request.user = user
    UserTimezoneMiddleware(view)(request)
    timezone.deactivate()
    return seen[0]


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Asia/Tokyo", "Asia/Tokyo"),
        ("America/New_York", "America/New_York"),
        ("", "UTC"),  # none chosen
        ("Mars/Olympus_Mons", "UTC"),  # not in this machine's database: UTC, not a 500
    ],
)
def test_pages_and_emails_show_the_same_zone(developer, name, shown):
    developer.time_zone = name
    developer.save(update_fields=["time_zone"])
    expected = user_zone(developer)
    assert str(expected) == shown

    assert _zone_a_page_sees(developer) == str(expected)

    with time_machine.travel(NOW, tick=False):
        assert send_security_notice(developer, "password_changed")
    body = mail.outbox[-1].body
    assert NOW.astimezone(expected).strftime("%Y-%m-%d %H:%M %Z") in body
