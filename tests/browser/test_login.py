import pytest

from tests.conftest import login_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_shows_navigation(page, live_server, reporter, project):
    login_in_browser(page, live_server, "reporter", None)
    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("link", name="Issues").wait_for()
    assert nav.get_by_role("button", name="Projects").is_visible()
    assert "Reporter" in nav.inner_text()
    assert page.title() == "Issues · Resolve"
