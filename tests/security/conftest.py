"""A world of two projects (WEB, OPS) with one of everything, for the security tests."""

import json
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api.services import create_api_token
from customfields.models import CustomField
from customfields.services import create_custom_field, set_custom_values
from intake.models import AssignmentRule, EventGroup, IntakeToken
from intake.services import create_intake_token
from issues.models import Attachment, Issue, IssueLink, SavedFilter
from issues.services import add_attachment, link_issues, save_filter, unlink_issues
from mailin.models import MailAddress, MailMessage
from mailin.services import add_mail_address, ingest
from notifications.models import Kind, Notification
from projects.models import Component, Membership, Role, Version
from projects.services import create_component, create_version
from tests.factories import UserFactory, make_issue
from webhooks.models import Delivery, Subscription
from webhooks.services import send_ping

SECRET = "Zebra-secret-{key}-outage"


def secret_of(key: str) -> str:
    """A word that appears only in the titles, notes and events of project `key`."""
    return SECRET.format(key=key)


@dataclass
class Side:
    """One project's objects: what a user of the *other* project must never reach."""

    key: str
    secret: str
    issue: Issue
    attachment: Attachment
    link: IssueLink
    saved_filter: SavedFilter
    notification: Notification
    intake_token: IntakeToken
    group: EventGroup
    rule: AssignmentRule
    api_token_pk: int
    api_secret: str
    webhook: Subscription
    webhook_delivery: Delivery
    mail_address: MailAddress
    mail_message: MailMessage
    component: Component
    version: Version
    custom_field: CustomField

    @property
    def probe(self) -> str:
        """Search words matching the secret titles without being the whole secret (pages echo
        the query back)."""
        return self.secret.rsplit("-", 1)[0]


def _side(client, project, owner, partner) -> Side:
    SECRET = secret_of(project.key)  # noqa: N806
    issue = make_issue(project, owner, title=f"{SECRET} {project.key}")
    other = make_issue(project, owner, title=f"{SECRET} {project.key} twin")
    attachment = add_attachment(
        issue, actor=owner, upload=SimpleUploadedFile("notes.txt", b"private notes")
    )
    link = link_issues(issue, target=other, kind="relates", actor=owner)
    saved = save_filter(owner, name=f"{project.key} filter", query="status=new")
    note = Notification.objects.create(
        recipient=owner, kind=Kind.ASSIGNED, issue=issue, summary=f"{SECRET} note"
    )
    token, raw = create_intake_token(project, name="Monitoring", actor=owner)
    response = client.post(
        f"/api/v1/projects/{project.key}/events/",
        data=json.dumps({"title": f"{SECRET} event", "message": "boom", "level": "error"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 202, response.content
    group = EventGroup.objects.get(project=project)
    rule = AssignmentRule.objects.create(project=project, match_component="checkout", owner=owner)
    api_token, api_secret = create_api_token(owner, name="script")
    # Saved directly: the SSRF guard would resolve the name (its own tests cover it).
    webhook = Subscription.objects.create(
        project=project,
        url=f"https://hooks.example.com/{project.key}",
        description=f"{SECRET} hook",
        event_types=["issue.created"],
        created_by=owner,
    )
    delivery = send_ping(webhook, actor=owner)
    address = add_mail_address(project, actor=owner, address=f"{project.key.lower()}@example.com")
    [quarantined] = ingest(
        (
            f"From: stranger@evil.example\r\nTo: {address.address}\r\n"
            f"Subject: {SECRET} mail\r\nMessage-ID: <{project.key}@evil.example>\r\n\r\n{SECRET}\r\n"
        ).encode(),
        transport="smtp",
    )
    component = create_component(project, actor=owner, name=f"{SECRET} component"[:80])
    version = create_version(project, actor=owner, name=f"{SECRET} v"[:60])
    # A custom field whose value carries the secret: never on another project's pages.
    custom_field = create_custom_field(
        project, name=f"{SECRET} field", slug="secret_field", kind="text"
    )
    set_custom_values(issue, actor=owner, values={"secret_field": f"{SECRET} value"})
    return Side(
        key=project.key,
        secret=SECRET,
        issue=issue,
        attachment=attachment,
        link=link,
        saved_filter=saved,
        notification=note,
        intake_token=token,
        group=group,
        rule=rule,
        api_token_pk=api_token.pk,
        api_secret=api_secret,
        webhook=webhook,
        webhook_delivery=delivery,
        mail_address=address,
        mail_message=quarantined,
        component=component,
        version=version,
        custom_field=custom_field,
    )


@pytest.fixture
def world(client, project, other_project, manager, developer, tester, reporter, outsider):
    """`world["WEB"]` and `world["OPS"]`: the objects of each project."""
    from django.test import Client

    c = Client()
    return {
        "WEB": _side(c, project, manager, developer),
        "OPS": _side(c, other_project, outsider, outsider),
    }


@dataclass
class Crossing:
    """Links across the two projects of `world`, made by someone in both (`bridge`): each
    project's two secret issues are linked to one of the other project's, one as the link's
    source and one as its target, and WEB's issue and OPS's twin also carry the record of a
    link between them added and removed again."""

    bridge: object
    links: list[IssueLink]


@pytest.fixture
def crossed(world, project, other_project) -> Crossing:
    bridge = UserFactory(username="bridge")
    for p in (project, other_project):
        Membership.objects.create(project=p, user=bridge, role=Role.DEVELOPER)
    web, ops = world["WEB"], world["OPS"]
    out = link_issues(web.issue, target=ops.issue, kind="blocks", actor=bridge)
    back = link_issues(ops.link.target, target=web.link.target, kind="duplicates", actor=bridge)
    gone = link_issues(web.issue, target=ops.link.target, kind="relates", actor=bridge)
    unlink_issues(gone, actor=bridge)
    return Crossing(bridge=bridge, links=[out, back])
