"""Mail-in fixtures: a project address, messages built like real clients write them."""

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from django.utils import timezone

from mailin import services
from mailin.models import MailAddress
from tests.notifications.conftest import eager_celery  # noqa: F401  (re-exported fixture)

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture
def address(project, manager) -> MailAddress:
    return services.add_mail_address(project, actor=manager, address="web-support@example.com")


def build(
    *,
    sender="reporter@example.com",
    to="web-support@example.com",
    subject="Checkout button does nothing",
    body="Clicking Pay does nothing on Firefox.",
    html=None,
    message_id=None,
    headers=None,
    attachments=(),
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = message_id or make_msgid(domain="client.example")
    for name, value in (headers or {}).items():
        msg[name] = value
    if body is not None:
        msg.set_content(body)
    if html is not None:
        if body is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    for filename, content, maintype, subtype in attachments:
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()
