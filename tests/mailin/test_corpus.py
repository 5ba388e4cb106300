"""Real-world mail as clients write it (tests/mailin/corpus/): each message becomes a correct
issue or a quarantine/ignore entry with a reason — never an error, never a half-made issue."""

import pytest
from django.core import mail as outbox

from issues.models import Attachment, Issue
from mailin import services
from mailin.models import MailMessage, MailStatus

from .conftest import CORPUS, build, corpus

pytestmark = pytest.mark.django_db

FILED = {
    "gmail_alternative.eml": (
        "Zahlung schlägt fehl – Fehler 502",
        "„Jetzt zahlen“ ein Fehler 502",
        [],
    ),
    "outlook_html_only.eml": (
        "CSV export drops the last row",
        "The export to CSV drops the **last row** – every time.",
        [],
    ),
    "apple_iso8859.eml": (
        "Page « Mes commandes » vide sous Safari",
        "la page « Mes commandes » reste blanche sur Safari 18. Déjà essayé",
        [],
    ),
    "thunderbird_shift_jis.eml": (
        "パスワード再設定でエラー",
        "ログイン画面で「パスワードを忘れた」を押すとエラーになります。",
        [],
    ),
    "iso2022jp.eml": ("検索結果が二重に表示される", "検索結果が二重に表示されます。", []),
    "encoded_filenames.eml": (
        "Logs für den Absturz",
        "Zwei Logdateien anbei.",
        ["Abstürze März.log", "日本語.txt"],
    ),
    "inline_image.eml": (
        "Broken layout, screenshot inline",
        "The header overlaps the menu",
        ["image001.png"],
    ),
    "winmail_dat.eml": (
        "Printing the invoice cuts off the footer",
        "cut off when printing from Edge",
        ["winmail.dat"],
    ),
    "empty_body.eml": ("Search box missing on mobile", "", []),
    "no_message_id.eml": ("Newsletter signup says error", 'shows "error"', []),
    "malformed_headers.eml": (
        "=?utf-8?q?unterminated_encoded_word",
        "The text arrives",
        [],
    ),
    "forwarded_as_attachment.eml": (
        "Fwd: Customer cannot download invoice",
        "See the customer's message attached.",
        ["Cannot download invoice.eml"],
    ),
}
IGNORED = {
    "auto_reply_out_of_office.eml": "Auto-Submitted: auto-replied",
    "dsn_bounce.eml": "Delivery status notification",
    "precedence_bulk.eml": "Precedence: bulk",
}
QUARANTINED = {"stranger.eml": "somebody@elsewhere.example is not a member of project WEB"}


def test_the_corpus_is_complete():
    names = {p.name for p in CORPUS.glob("*.eml")}
    assert names == set(FILED) | set(IGNORED) | set(QUARANTINED)


@pytest.mark.parametrize("name", sorted(FILED))
def test_filed(name, address, reporter, manager):
    title, text, files = FILED[name]
    [row] = services.ingest(corpus(name), transport="imap")
    assert row.status == MailStatus.FILED, row.reason
    issue = Issue.objects.get()
    assert issue.title == title
    assert text in issue.description
    assert issue.reporter == reporter
    assert sorted(a.filename for a in issue.attachments.all()) == sorted(files)
    for attachment in issue.attachments.all():
        assert attachment.size == attachment.file.size > 0
    assert "<script" not in issue.description


def test_html_only_mail_is_sanitised_on_the_page(client, address, reporter):
    services.ingest(corpus("outlook_html_only.eml"), transport="imap")
    client.force_login(reporter)
    page = client.get(Issue.objects.get().get_absolute_url()).content.decode()
    assert "<strong>last row</strong>" in page
    assert "<script>alert" not in page
    assert 'href="https://wiki.example.com/export"' in page


@pytest.mark.parametrize("name", sorted(IGNORED))
def test_automatic_mail_is_ignored_and_never_answered(name, address, reporter):
    [row] = services.ingest(corpus(name), transport="imap")
    assert row.status == MailStatus.IGNORED
    assert IGNORED[name] in row.reason
    assert Issue.objects.count() == 0
    assert outbox.outbox == []


def test_stranger_is_quarantined_with_the_raw_message(address):
    [row] = services.ingest(corpus("stranger.eml"), transport="imap")
    assert row.status == MailStatus.QUARANTINED
    assert QUARANTINED["stranger.eml"] in row.reason
    assert bytes(row.raw) == corpus("stranger.eml")
    assert len(outbox.outbox) == 1


def test_no_message_id_is_still_filed_once(address, reporter):
    raw = corpus("no_message_id.eml")
    services.ingest(raw, transport="imap")
    services.ingest(raw, transport="imap")
    assert Issue.objects.count() == 1
    assert MailMessage.objects.get().message_id.startswith("<sha256.")


def test_25_mb_attachment_goes_to_quarantine_whole(address, reporter, settings, tmp_path):
    big = bytes(range(256)) * (25 * 1024 * 1024 // 256)
    raw = build(attachments=[("dump.bin", big, "application", "octet-stream")])
    assert len(raw) > 25 * 1024 * 1024
    [row] = services.ingest(raw, transport="smtp", envelope_from="reporter@example.com")
    assert row.status == MailStatus.QUARANTINED
    assert "“dump.bin” is 25.0 MB; files may be at most 10 MB" in row.reason
    assert Issue.objects.count() == 0 and Attachment.objects.count() == 0
    assert not list((tmp_path / "media").rglob("*.bin"))  # no stored file left behind
    assert bytes(row.raw) == raw  # kept whole for the manager


def test_25_mb_attachment_within_a_raised_limit_is_attached(address, reporter, settings):
    settings.ATTACHMENT_MAX_BYTES = 30 * 1024 * 1024
    big = b"\x00\x01" * (25 * 1024 * 1024 // 2)
    raw = build(attachments=[("dump.bin", big, "application", "octet-stream")])
    [row] = services.ingest(raw, transport="smtp", envelope_from="reporter@example.com")
    assert row.status == MailStatus.FILED, row.reason
    attachment = row.issue.attachments.get()
    assert attachment.size == len(big)


def test_unreadable_bytes_are_quarantined_not_lost(address, reporter):
    [row] = services.ingest(b"\xff\xfe\x00garbage\r\n\r\n\x00", transport="drop")
    assert row.status == MailStatus.QUARANTINED
    assert row.reason
    assert Issue.objects.count() == 0
