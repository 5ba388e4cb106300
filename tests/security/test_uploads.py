"""Uploads: a size limit (413), server-generated storage names, and downloads that are always
attachments with `nosniff`, never HTML or SVG rendered inline."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from issues.models import Attachment
from tests.factories import make_issue

pytestmark = pytest.mark.django_db

HOSTILE = [
    ("page.html", b"<html><script>alert(1)</script></html>", "text/html"),
    ("x.htm", b"<script>alert(1)</script>", "text/html"),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml"),
    ("x.xhtml", b"<html xmlns='http://www.w3.org/1999/xhtml'><script>1</script></html>", ""),
    ("x.js", b"alert(1)", "application/javascript"),
    ("pic.png", b"<html><script>alert(1)</script></html>", "image/png"),  # lying extension
    ("notes.txt", b"<script>alert(1)</script>", "text/plain"),
    ("../../../etc/passwd", b"root:x:0:0", "text/plain"),
    ('a"; filename="evil.html', b"<script>alert(1)</script>", "text/html"),
    ("x.html\r\nX-Injected: 1", b"<script>alert(1)</script>", "text/html"),
]


@pytest.fixture
def issue(project, reporter):
    return make_issue(project, reporter)


def test_over_the_limit_is_413_with_a_clear_message(client, issue, reporter, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    client.force_login(reporter)
    big = SimpleUploadedFile("big.log", b"x" * 1025, content_type="text/plain")
    response = client.post(f"/issues/{issue.key}/attachments/", {"file": big})
    assert response.status_code == 413
    assert "too large" in response.text
    assert not Attachment.objects.exists()
    small = SimpleUploadedFile("small.log", b"x" * 1024, content_type="text/plain")
    assert client.post(f"/issues/{issue.key}/attachments/", {"file": small}).status_code == 302


@pytest.mark.parametrize("name,content,content_type", HOSTILE)
def test_hostile_files_are_stored_under_generated_names_and_served_as_attachments(
    client, issue, reporter, name, content, content_type
):
    client.force_login(reporter)
    upload = SimpleUploadedFile(name, content, content_type=content_type or "text/plain")
    response = client.post(f"/issues/{issue.key}/attachments/", {"file": upload})
    assert response.status_code == 302, response.content
    attachment = Attachment.objects.get()
    assert re.fullmatch(
        rf"attachments/{issue.pk}/[0-9a-f]{{32}}(\.[a-z0-9]{{1,9}})?", attachment.file.name
    ), attachment.file.name
    assert "/" not in attachment.filename and "\\" not in attachment.filename
    download = client.get(f"/issues/{issue.key}/attachments/{attachment.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == content
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment;"), disposition
    assert "\r" not in disposition and "\n" not in disposition
    assert "X-Injected" not in download.headers
    assert download["X-Content-Type-Options"] == "nosniff"
    served = download["Content-Type"].split(";")[0].strip()
    assert served not in ("text/html", "image/svg+xml", "application/xhtml+xml", "text/javascript")
    assert "html" not in served and "svg" not in served and "javascript" not in served
    assert "sandbox" in download["Content-Security-Policy"]


def test_every_upload_form_answers_413_for_an_over_limit_file(
    client, issue, project, reporter, settings
):
    settings.ATTACHMENT_MAX_BYTES = 1024

    def big():
        return SimpleUploadedFile("big.log", b"x" * 2048, content_type="text/plain")

    client.force_login(reporter)
    comment = client.post(f"/issues/{issue.key}/comments/", {"body": "See log", "files": big()})
    assert comment.status_code == 413 and "too large" in comment.text
    new = client.post(
        "/issues/new/",
        {"project": project.pk, "title": "With a log", "type": "bug", "priority": 2,
         "severity": 2, "attachment": big()},
    )  # fmt: skip
    assert new.status_code == 413 and "too large" in new.text
    assert not Attachment.objects.exists()
    assert not issue.comments.exists()
    assert not issue.project.issues.filter(title="With a log").exists()
