"""Reading a received message: who sent it, to whom, what it says, what is attached, and
whether it is automatic mail that must never be answered.

Every header is read defensively: real-world mail has malformed headers, unknown charsets
and broken encodings, and none of them may stop a message from being filed or quarantined.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

import html2text
from mailparser_reply import EmailReplyParser

from issues.mailthread import mail_domain

# Headers listing where a message was delivered (IMAP mailboxes and drop files have no
# envelope; the MTA records the envelope recipient in the first two).
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
NOISE_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
OWN_MESSAGE_ID = re.compile(r"^<resolve\.[a-z_]+\.\d+@", re.IGNORECASE)
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "ja", "zh"]


@dataclass
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass
class ParsedMail:
    message_id: str
    sender: str
    sender_name: str
    subject: str
    text: str
    recipients: list[str]
    in_reply_to: str
    references: list[str]
    attachments: list[Attachment] = field(default_factory=list)
    converted_from_html: bool = False


def _header(msg: Message, name: str) -> str:
    """A header as one clean line; '' when missing. A value the header parser refuses (an
    encoded CR/LF in an address, say) is returned as it was received, unfolded."""
    try:
        value = msg.get(name)
        text = "" if value is None else str(value)
    except Exception:
        text = next((str(v) for k, v in msg.raw_items() if k.lower() == name.lower()), "")
    return " ".join(text.split())


def parse_message(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=policy.default)
    if not isinstance(msg, EmailMessage):  # policy.default always builds one
        raise TypeError("not an EmailMessage")
    return msg


def parse_headers(raw: bytes) -> EmailMessage:
    """The headers only (the body is not parsed into parts): enough to route and store a
    message, several times cheaper than `parse_message` on a multipart message."""
    msg = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    if not isinstance(msg, EmailMessage):  # policy.default always builds one
        raise TypeError("not an EmailMessage")
    return msg


def message_id_of(msg: Message, raw: bytes) -> str:
    """The Message-ID, or one derived from the bytes (the same bytes handed over twice are
    the same message)."""
    value = _header(msg, "Message-ID")
    match = re.search(r"<[^<>\s]+>", value)
    if match:
        return match.group(0)[:998]
    if value:
        return f"<{value.strip('<> ')[:990]}>"
    return f"<sha256.{hashlib.sha256(raw).hexdigest()}@resolve.invalid>"


def addresses(msg: Message, *names: str) -> list[str]:
    """Lower-cased addresses found in these headers, in order, without repeats."""
    found: list[str] = []
    for name in names:
        try:
            values = [str(v) for v in msg.get_all(name, [])]
        except Exception:
            values = []
        for _display, addr in getaddresses(values):
            addr = addr.strip().lower()
            if "@" in addr and addr not in found:
                found.append(addr)
    return found


def sender_of(msg: Message) -> tuple[str, str]:
    """(address lower-cased, display name) of From (Sender when From is unreadable)."""
    for name in ("From", "Sender"):
        try:
            parsed = list(getattr(msg.get(name), "addresses", ()) or ())
        except Exception:  # an address list the header parser gave up on
            parsed = []
        for address in parsed:
            if "@" in address.addr_spec:
                return address.addr_spec.strip().lower()[:254], address.display_name.strip()[:150]
        value = _header(msg, name)
        display, addr = parseaddr(value)
        if "@" not in addr:
            # The last <local@domain> wins: what a mail client would reply to.
            found = re.findall(r"<([^<>\s]+@[^<>\s]+)>", value)
            addr = found[-1] if found else ""
        if "@" in addr:
            return addr.strip().lower()[:254], display.strip()[:150]
    return "", ""


def noise_reason(msg: Message, *, envelope_from: str | None, own_from: str) -> str | None:
    """Why this message is automatic (and must be neither filed nor answered), or None."""
    auto = _header(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"Automatic message (Auto-Submitted: {auto[:40]})."
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if _header(msg, name):
            return f"Automatic reply ({name})."
    precedence = _header(msg, "Precedence").lower()
    if precedence in NOISE_PRECEDENCE:
        return f"Bulk or automatic mail (Precedence: {precedence})."
    return_path = _header(msg, "Return-Path")
    if envelope_from == "" or return_path.replace(" ", "") == "<>":
        return "Null return path (a bounce or notification)."
    content_type = msg.get_content_type()
    if content_type == "multipart/report" or any(
        part.get_content_type() == "message/delivery-status" for part in msg.walk()
    ):
        return "Delivery status notification."
    sender, _ = sender_of(msg)
    local = sender.partition("@")[0]
    if local in {"mailer-daemon", "postmaster"}:
        return f"Delivery system mail ({local})."
    message_id = _header(msg, "Message-ID")
    if (
        _header(msg, "X-Resolve-Alert")
        or (OWN_MESSAGE_ID.match(message_id) and message_id.lower().endswith(f"@{mail_domain()}>"))
        or (own_from and sender == own_from)
    ):
        return "Sent by Resolve itself (a mail loop)."
    return None


def _decoded_text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, AssertionError, ValueError, KeyError):
        pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8", "cp1252"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeError):
            continue
    return payload.decode("latin-1")


def html_to_markdown(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.body_width = 0  # keep paragraphs on one line: Markdown wraps them itself
    converter.ignore_images = True  # inline images arrive as attachments
    converter.protect_links = True
    return converter.handle(html).strip()


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    name = " ".join((name or "").split()).replace("/", "_").replace("\\", "_").strip(". ")
    return name[:200]


def _parts(msg: Message):
    """Leaf parts, not descending into attached messages (a forwarded message is one file)."""
    if msg.is_multipart():
        for sub in msg.get_payload():  # type: ignore[union-attr]
            if isinstance(sub, Message):
                yield from _parts(sub)
    else:
        yield msg


def _body_parts(msg: EmailMessage) -> tuple[Message | None, Message | None]:
    """The plain and HTML bodies the sender wrote (not attached files)."""
    plain = html = None
    for part in _parts(msg) if msg.is_multipart() else [msg]:
        if _filename(part) or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = part
        elif kind == "text/html" and html is None:
            html = part
    return plain, html


def _attachments(msg: EmailMessage, bodies: set[int]) -> list[Attachment]:
    found: list[Attachment] = []
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop(0)
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            data = inner.as_bytes() if isinstance(inner, Message) else b""
            subject = _header(inner, "Subject") if isinstance(inner, Message) else ""
            name = _filename(part) or f"{(subject or 'forwarded message')[:80]}.eml"
            found.append(Attachment(name.replace("/", "_"), kind, data))
            continue
        if part.is_multipart():
            stack[0:0] = [p for p in part.get_payload() if isinstance(p, Message)]  # type: ignore[union-attr]
            continue
        if id(part) in bodies:
            continue
        name = _filename(part)
        if not name and kind.startswith("text/") and part.get_content_disposition() != "attachment":
            continue  # another alternative of the body
        try:
            payload = part.get_payload(decode=True)
        except Exception:
            payload = None
        data = payload if isinstance(payload, bytes) else b""
        if not name:
            extension = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif"}.get(
                kind, ".bin"
            )
            name = f"attachment-{len(found) + 1}{extension}"
        found.append(Attachment(name, kind, data))
    return found


def read_mail(msg: EmailMessage, raw: bytes) -> ParsedMail:
    sender, sender_name = sender_of(msg)
    plain, html = _body_parts(msg)
    converted = False
    if plain is not None:
        text = _decoded_text(plain)
    elif html is not None:
        text = html_to_markdown(_decoded_text(html))
        converted = True
    else:
        text = ""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    bodies = {id(p) for p in (plain, html) if p is not None}
    references = re.findall(r"<[^<>\s]+>", _header(msg, "References"))
    in_reply_to = re.findall(r"<[^<>\s]+>", _header(msg, "In-Reply-To"))
    return ParsedMail(
        message_id=message_id_of(msg, raw),
        sender=sender,
        sender_name=sender_name,
        subject=_header(msg, "Subject"),
        text=text.strip(),
        recipients=addresses(msg, *RECIPIENT_HEADERS),
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=references,
        attachments=_attachments(msg, bodies),
        converted_from_html=converted,
    )


def reply_text(text: str) -> str:
    """What the person wrote in a reply: quoted history, "On … wrote:" blocks and signatures
    removed (mail-parser-reply)."""
    if not text.strip():
        return ""
    try:
        latest = EmailReplyParser(languages=REPLY_LANGUAGES).parse_reply(text=text)
    except Exception:  # the parser's patterns are heuristics; fall back to the whole text
        latest = text
    return (latest or "").strip()


def clean_title(subject: str, *, limit: int) -> str:
    """One line, reply/forward prefixes kept (they are what the sender wrote), cut to fit."""
    title = " ".join(subject.replace("\x00", "").split())  # PostgreSQL text holds no NUL
    if len(title) > limit:
        title = title[: limit - 1].rstrip() + "…"
    return title
