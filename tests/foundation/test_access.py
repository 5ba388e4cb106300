import pytest
from django.urls import reverse

from tests.factories import make_issue

pytestmark = pytest.mark.django_db


def test_member_sees_own_project_only(client, project, other_project, reporter, outsider):
    client.force_login(reporter)
    listing = client.get(reverse("project_list"))
    assert "Web shop" in listing.text
    assert "Operations" not in listing.text
    assert client.get(reverse("project_detail", args=["WEB"])).status_code == 200
    assert client.get(reverse("project_detail", args=["OPS"])).status_code == 404


def test_other_projects_issue_is_404_and_never_listed(
    client, project, other_project, reporter, outsider
):
    secret = make_issue(other_project, outsider, title="Secret outage in payments")
    mine = make_issue(project, reporter, title="Visible bug")
    client.force_login(reporter)
    assert client.get(mine.get_absolute_url()).status_code == 200
    assert client.get(secret.get_absolute_url()).status_code == 404
    listing = client.get(reverse("issue_list"))
    assert "Visible bug" in listing.text
    assert "Secret outage" not in listing.text


def test_staff_sees_everything(client, project, other_project, outsider, admin_user):
    issue = make_issue(other_project, outsider, title="Secret outage in payments")
    client.force_login(admin_user)
    assert client.get(issue.get_absolute_url()).status_code == 200


def test_anonymous_is_sent_to_login(client, project):
    response = client.get(reverse("project_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_unknown_issue_key_is_404(client, reporter):
    client.force_login(reporter)
    assert client.get("/issues/WEB-999/").status_code == 404
    assert client.get("/issues/not-a-key/").status_code == 404


def test_admin_usable_by_superuser(client, admin_user, project, reporter):
    make_issue(project, reporter)
    client.force_login(admin_user)
    for url in [
        "/admin/",
        "/admin/issues/issue/",
        "/admin/projects/project/",
        "/admin/accounts/user/",
    ]:
        assert client.get(url).status_code == 200, url
    client.force_login(reporter)
    assert client.get("/admin/issues/issue/").status_code == 302
