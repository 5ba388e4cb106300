"""Stored XSS in real Chromium: a corpus of payloads in every text field a person or an event
can set, then every page that shows them opened with `alert`/`confirm`/`prompt` hooked and CSP
violations collected. Expected: 0 executions, 0 violations."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from intake.services import create_intake_token
from issues.models import Issue
from issues.services import add_attachment, add_comment
from mailin.services import add_mail_address, ingest
from notifications.services import process_outbox
from tests.conftest import login_in_browser
from tests.factories import make_issue
from workflows.issue_use_cases import add_label

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A hand corpus in the spirit of the big list of naughty strings' script-injection section,
# plus Markdown tricks (descriptions and comments are Markdown).
PAYLOADS = [
    "<script>alert(1)</script>",
    "<ScRiPt>alert(2)</sCrIpT>",
    '"><script>alert(3)</script>',
    "'><script>alert(4)</script>",
    "</textarea><script>alert(5)</script>",
    "</title><script>alert(6)</script>",
    "<img src=x onerror=alert(7)>",
    '<img src="x" onerror="alert(8)">',
    "<svg onload=alert(9)>",
    "<svg><script>alert(10)</script></svg>",
    '<body onload="alert(11)">',
    '<iframe src="javascript:alert(12)"></iframe>',
    '<a href="javascript:alert(13)">click</a>',
    '<a href="JaVaScRiPt:alert(14)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxNSk8L3NjcmlwdD4=">d</a>',
    "[link](javascript:alert(16))",
    "[link](JAVASCRIPT:alert(17))",
    "[link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxOCk8L3NjcmlwdD4=)",
    '![img](x" onerror="alert(19))',
    '[a](https://example.com "title" onmouseover="alert(20)")',
    "<details open ontoggle=alert(21)>",
    '<input autofocus onfocus="alert(22)">',
    '<div style="background:url(javascript:alert(23))">x</div>',
    '<math><mi xlink:href="javascript:alert(24)">x</mi></math>',
    "{{7*7}} {% debug %} ${alert(25)}",
    "javascript:alert(26)",
    '<object data="javascript:alert(27)"></object>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(28)">',
    "<<script>alert(29)//<</script>",
    '<a href="&#106;avascript:alert(30)">e</a>',
    "`<script>alert(31)</script>`\n\n```html\n<script>alert(32)</script>\n```",
    '<form action="javascript:alert(33)"><button>go</button></form>',
]

HOOK = """
window.__xss = [];
for (const name of ['alert', 'confirm', 'prompt', 'print']) {
  window[name] = (...args) => { window.__xss.push(name + ':' + args.join(',')); };
}
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def _plant(project, manager, developer, reporter):
    """Every text field a person or an event can set, with the corpus."""
    reporter.display_name = PAYLOADS[0]
    reporter.save(update_fields=["display_name"])
    developer.display_name = PAYLOADS[6]
    developer.save(update_fields=["display_name"])
    issues = []
    for payload in PAYLOADS:
        issue = make_issue(
            project,
            reporter,
            title=payload[:200],
            description="\n\n".join(PAYLOADS),
            environment=payload[:120],
            affected_version=payload[:60],
        )
        issues.append(issue)
    sink = issues[0]
    sink.watchers.add(manager, developer, reporter)
    for i, payload in enumerate(PAYLOADS):
        add_label(sink, actor=manager, name=f"l{i}{payload}"[:50])
        add_comment(sink, author=developer, body=payload)
        add_attachment(
            sink,
            actor=reporter,
            upload=SimpleUploadedFile(f"{payload[:150]}.txt", b"x", content_type="text/plain"),
        )
    process_outbox()
    process_outbox()
    # Events from a monitoring tool: their titles and messages become issues and groups.
    raw = create_intake_token(project, name=PAYLOADS[8], actor=manager)[1]
    client = Client()
    for i, payload in enumerate(PAYLOADS[:12]):
        response = client.post(
            f"/api/v1/projects/{project.key}/events/",
            data=json.dumps(
                {
                    "title": payload,
                    "message": payload,
                    "level": "error",
                    "event_id": f"xss-{i}",
                    "tags": {"component": payload[:40]},
                }
            ),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        assert response.status_code == 202, response.content
    return sink


def _plant_mail(project, manager, reporter):
    """Mail in: payloads as subject, text, HTML, sender name and file name, filed by a member
    and quarantined from a stranger."""
    from email.message import EmailMessage
    from email.utils import formataddr

    add_mail_address(project, actor=manager, address="xss@example.com")
    for i, payload in enumerate(PAYLOADS[:12]):
        for sender in (reporter.email, f"stranger{i}@evil.example"):
            msg = EmailMessage()
            msg["From"] = formataddr((payload[:40], sender))
            msg["To"] = "xss@example.com"
            msg["Subject"] = payload
            msg["Message-ID"] = f"<xss-{i}-{sender}>"
            msg.set_content(payload)
            msg.add_alternative(f"<p>{payload}</p>", subtype="html")
            msg.add_attachment(
                b"x", maintype="text", subtype="plain", filename=f"{payload[:60]}.txt"
            )
            ingest(msg.as_bytes(), transport="smtp")


def test_no_payload_runs_anywhere(page, live_server, project, manager, developer, reporter):
    from intake.models import EventGroup

    sink = _plant(project, manager, developer, reporter)
    group = EventGroup.objects.filter(project=project).first()
    intake_issue = Issue.objects.filter(project=project).order_by("-pk").first()
    _plant_mail(project, manager, reporter)
    mail_issue = Issue.objects.filter(project=project).order_by("-pk").first()
    assert mail_issue.attachments.exists()
    dialogs = []
    console = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: console.append(m.text))
    page.add_init_script(HOOK)
    login_in_browser(page, live_server, "manager", None)
    pages = [
        "/issues/",
        "/issues/?per_page=100",
        f"/issues/{sink.key}/",
        f"/issues/{sink.key}/edit/",
        f"/issues/{intake_issue.key}/",
        "/dashboard/",
        "/triage/",
        "/notifications/",
        f"/projects/{project.key}/",
        f"/projects/{project.key}/intake/",
        f"/projects/{project.key}/intake/groups/{group.pk}/",
        f"/issues/{sink.key}/transition/closed/",
        f"/projects/{project.key}/mail/",
        f"/issues/{mail_issue.key}/",
        f"/projects/{project.key}/board/",
        f"/projects/{project.key}/board/?lanes=owner",
        "/board/?lanes=team",
        f"/board/move/{sink.key}/closed/",
    ]
    for path in pages:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
        # Give event handlers (onfocus/ontoggle/onerror) a chance to fire.
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)))")
        if path == f"/issues/{sink.key}/":
            # The payloads are on the page, as text.
            assert "<script>alert(1)</script>" in page.locator("main").inner_text()
        ran = page.evaluate("window.__xss")
        violations = page.evaluate("window.__csp")
        assert ran == [], f"{path}: {ran}"
        assert violations == [], f"{path}: {violations}"
    assert dialogs == []
    csp_messages = [m for m in console if "Content Security Policy" in m]
    assert csp_messages == [], csp_messages
