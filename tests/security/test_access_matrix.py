"""The access matrix: every URL pattern of the project × every persona.

Each persona is pointed at the objects of a project it does not belong to (WEB's roles at
OPS, the outsider at WEB). Expected in every cell:
- anonymous: a redirect to the login page (web) or 401 (API);
- a signed-in user: 403 or 404 for another project's object (405 for a GET on a POST-only
  view), never 200 with its data, never a 500; pages not about one object (lists, search,
  dashboards, CSV, inbox) answer without a word of the other project's data, even when the
  query string names it;
- admin: every non-staff persona is sent to the admin's login.
Nothing of the other project changes whatever the persona posts.

A URL pattern missing from ROUTES fails `test_every_url_pattern_is_classified`.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from api.models import ApiToken
from api.services import create_api_token
from intake.models import AssignmentRule, DsnKey, IntakeSettings, IntakeToken
from intake.sdk import create_dsn_key
from issues.models import Attachment, Comment, Issue, IssueEvent, IssueLink, SavedFilter
from issues.selectors import HIDDEN_ISSUE, HIDDEN_LINKED_ISSUE
from issues.services import LINK_NEEDS_BOTH_ENDS, add_comment
from notifications.models import Notification
from notifications.services import process_outbox
from reports.dashboard import TABLE_SECTION
from tests.factories import make_issue

from .conftest import Side

pytestmark = pytest.mark.django_db

PUBLIC = "public"  # no sign-in needed (login, password reset, health, API schema)
SCOPED = "scoped"  # signed in, about the user's own things or everything visible to them
FOREIGN = "foreign"  # about one object of one project: the URL names it
API = "api"  # bearer token
ADMIN = "admin"  # staff only (Django admin)


@dataclass(frozen=True)
class Route:
    kind: str
    # How to build the URL(s) from the other project's objects.
    urls: Callable[[Side], list[str]] = lambda s: []
    post: Callable[[Side], dict] = lambda s: {}
    # False: the view answers only GET (a POST gets 405 or is a no-op search).
    posts: bool = True
    # What the owning project's manager gets from a GET (proves the URL builder is right).
    own_get: tuple[int, ...] = (200,)
    notes: str = field(default="", compare=False)


def one(build: Callable[[Side], str]) -> Callable[[Side], list[str]]:
    return lambda s: [build(s)]


ROUTES: dict[str, Route] = {
    "": Route(SCOPED, one(lambda s: "/"), posts=False),
    "healthz": Route(PUBLIC, one(lambda s: "/healthz")),
    "accounts/login/": Route(PUBLIC, one(lambda s: "/accounts/login/")),
    "accounts/logout/": Route(PUBLIC, one(lambda s: "/accounts/logout/")),
    "accounts/password/change/": Route(SCOPED, one(lambda s: "/accounts/password/change/")),
    "accounts/password/change/done/": Route(
        SCOPED, one(lambda s: "/accounts/password/change/done/"), posts=False
    ),
    "accounts/password/reset/": Route(PUBLIC, one(lambda s: "/accounts/password/reset/")),
    "accounts/password/reset/sent/": Route(PUBLIC, one(lambda s: "/accounts/password/reset/sent/")),
    "accounts/password/reset/<uidb64>/<token>/": Route(
        PUBLIC, one(lambda s: "/accounts/password/reset/MQ/bad-token/")
    ),
    "accounts/password/reset/complete/": Route(
        PUBLIC, one(lambda s: "/accounts/password/reset/complete/")
    ),
    "accounts/profile/": Route(SCOPED, one(lambda s: "/accounts/profile/")),
    "accounts/api-tokens/": Route(SCOPED, one(lambda s: "/accounts/api-tokens/")),
    "accounts/api-tokens/<int:pk>/revoke/": Route(
        FOREIGN, one(lambda s: f"/accounts/api-tokens/{s.api_token_pk}/revoke/"), own_get=(405,)
    ),
    "projects/": Route(SCOPED, one(lambda s: "/projects/"), posts=False),
    "projects/<str:key>/": Route(FOREIGN, one(lambda s: f"/projects/{s.key}/")),
    "projects/people.json": Route(
        SCOPED,
        lambda s: ["/projects/people.json", f"/projects/people.json?q={s.probe}"],
        posts=False,
    ),
    "issues/": Route(
        SCOPED,
        lambda s: [
            "/issues/",
            f"/issues/?q={s.probe}",
            f"/issues/?q={s.issue.key}",
            f"/issues/?keys={s.issue.key}",
            f"/issues/?project={s.issue.project_id}",
        ],
        posts=False,
    ),
    "issues/new/": Route(
        SCOPED,
        one(lambda s: "/issues/new/"),
        post=lambda s: {"project": s.issue.project_id, "title": "Planted", "type": "bug"},
    ),
    "issues/export.csv": Route(
        SCOPED,
        lambda s: ["/issues/export.csv", f"/issues/export.csv?project={s.issue.project_id}"],
        posts=False,
    ),
    "issues/bulk/": Route(
        SCOPED,
        one(lambda s: "/issues/bulk/"),
        post=lambda s: {"issues": [s.issue.pk], "priority": 3, "label": "planted"},
    ),
    "issues/similar/": Route(
        SCOPED,
        lambda s: [f"/issues/similar/?project={s.issue.project_id}&title={s.probe}"],
        posts=False,
    ),
    "issues/filters/save/": Route(
        SCOPED, one(lambda s: "/issues/filters/save/"), post=lambda s: {"name": "x", "query": ""}
    ),
    "issues/filters/<int:pk>/delete/": Route(
        FOREIGN, one(lambda s: f"/issues/filters/{s.saved_filter.pk}/delete/"), own_get=(405,)
    ),
    "projects/<str:project_key>/issues/new/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/issues/new/"),
        post=lambda s: {"project": s.issue.project_id, "title": "Planted", "type": "bug"},
    ),
    "issues/<str:key>/": Route(FOREIGN, one(lambda s: f"/issues/{s.issue.key}/")),
    "issues/<str:key>/timeline/": Route(
        FOREIGN,
        one(
            lambda s: (
                f"/issues/{s.issue.key}/timeline/"
                "?after=2000-01-01T00:00:00%2B00:00~0~0&before=2100-01-01T00:00:00%2B00:00~1~1"
            )
        ),
        posts=False,
    ),
    "issues/<str:key>/edit/": Route(
        FOREIGN,
        one(lambda s: f"/issues/{s.issue.key}/edit/"),
        post=lambda s: {"title": "Planted", "version": s.issue.version},
    ),
    "issues/<str:key>/comments/": Route(
        FOREIGN,
        one(lambda s: f"/issues/{s.issue.key}/comments/"),
        post=lambda s: {"body": "Planted"},
        own_get=(405,),
    ),
    "issues/<str:key>/attachments/": Route(
        FOREIGN, one(lambda s: f"/issues/{s.issue.key}/attachments/"), own_get=(405,)
    ),
    "issues/<str:key>/attachments/<int:pk>/": Route(
        FOREIGN, one(lambda s: f"/issues/{s.issue.key}/attachments/{s.attachment.pk}/")
    ),
    "issues/<str:key>/watch/": Route(
        FOREIGN, one(lambda s: f"/issues/{s.issue.key}/watch/"), own_get=(405,)
    ),
    "issues/<str:key>/links/": Route(
        FOREIGN,
        one(lambda s: f"/issues/{s.issue.key}/links/"),
        post=lambda s: {"target": s.issue.key, "kind": "relates"},
        own_get=(405,),
    ),
    "issues/<str:key>/links/<int:pk>/delete/": Route(
        FOREIGN, one(lambda s: f"/issues/{s.issue.key}/links/{s.link.pk}/delete/"), own_get=(405,)
    ),
    "issues/<str:key>/transition/<str:to>/": Route(
        FOREIGN,
        one(lambda s: f"/issues/{s.issue.key}/transition/closed/"),
        post=lambda s: {"dismiss-resolution": "wont_fix"},
        own_get=(200, 409),
    ),
    "issues/<str:key>/sla/": Route(FOREIGN, one(lambda s: f"/issues/{s.issue.key}/sla/")),
    "issues/<str:key>/sla/ledger/": Route(
        FOREIGN, one(lambda s: f"/issues/{s.issue.key}/sla/ledger/"), posts=False
    ),
    "issues/<str:key>/sla/hold/": Route(
        FOREIGN,
        one(lambda s: f"/issues/{s.issue.key}/sla/hold/"),
        post=lambda s: {"reason": "customer", "note": "x"},
        own_get=(405,),
    ),
    "issues/<str:key>/sla/release/": Route(
        FOREIGN, one(lambda s: f"/issues/{s.issue.key}/sla/release/"), own_get=(405,)
    ),
    "projects/<str:key>/workflow/": Route(FOREIGN, one(lambda s: f"/projects/{s.key}/workflow/")),
    "projects/<str:key>/sla/": Route(FOREIGN, one(lambda s: f"/projects/{s.key}/sla/")),
    "projects/<str:key>/fields/": Route(FOREIGN, one(lambda s: f"/projects/{s.key}/fields/")),
    "projects/<str:key>/fields/new/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/fields/new/"),
        post=lambda s: {"name": "Planted", "slug": "planted", "kind": "text", "order": 0},
    ),
    "projects/<str:key>/fields/<int:pk>/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/fields/{s.custom_field.pk}/"),
        post=lambda s: {"name": "Planted", "order": 0},
    ),
    "projects/<str:key>/fields/<int:pk>/archive/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/fields/{s.custom_field.pk}/archive/"),
        own_get=(405,),
    ),
    "board/": Route(
        SCOPED,
        lambda s: [
            "/board/",
            f"/board/?q={s.probe}",
            f"/board/?project={s.issue.project_id}",
            "/board/?lanes=owner",
        ],
        posts=False,
    ),
    "projects/<str:key>/board/": Route(
        FOREIGN, one(lambda s: f"/projects/{s.key}/board/"), posts=False
    ),
    "projects/<str:key>/board/limits/": Route(
        FOREIGN, one(lambda s: f"/projects/{s.key}/board/limits/"), post=lambda s: {"new": 1}
    ),
    "board/move/<str:key>/<str:to>/": Route(
        FOREIGN,
        one(lambda s: f"/board/move/{s.issue.key}/closed/"),
        post=lambda s: {"dismiss-resolution": "wont_fix"},
        own_get=(200, 409),
    ),
    "notifications/": Route(SCOPED, one(lambda s: "/notifications/"), posts=False),
    "notifications/read-all/": Route(SCOPED, one(lambda s: "/notifications/read-all/")),
    "notifications/preferences/": Route(SCOPED, one(lambda s: "/notifications/preferences/")),
    # A notification belongs to its recipient: another person's answers 404 to everyone else.
    "notifications/<int:pk>/read/": Route(
        FOREIGN, one(lambda s: f"/notifications/{s.notification.pk}/read/"), own_get=(405,)
    ),
    "notifications/<int:pk>/open/": Route(
        FOREIGN, one(lambda s: f"/notifications/{s.notification.pk}/open/"), own_get=(405,)
    ),
    "notifications/issues/<str:key>/": Route(
        FOREIGN, one(lambda s: f"/notifications/issues/{s.issue.key}/"), posts=False
    ),
    "dashboard/": Route(
        SCOPED,
        lambda s: [
            "/dashboard/",
            f"/dashboard/?project={s.issue.project_id}",
            f"/dashboard/?q={s.probe}",
        ],
        posts=False,
    ),
    "dashboard/issues/": Route(
        SCOPED,
        lambda s: [
            f"/dashboard/issues/?metric={m}&project={s.issue.project_id}"
            for m in ("finished", "stage", "forecast")
        ],
        posts=False,
    ),
    "dashboard/<slug:slug>.csv": Route(
        SCOPED,
        lambda s: (
            [
                f"/dashboard/{slug}.csv?project={s.issue.project_id}&q={s.probe}"
                for slug in TABLE_SECTION
            ]
            + ["/dashboard/now-urgent.csv", "/dashboard/lessons.csv"]
        ),
        posts=False,
    ),
    "api/v1/openapi.json": Route(PUBLIC, one(lambda s: "/api/v1/openapi.json")),
    "api/v1/": Route(PUBLIC, one(lambda s: "/api/v1/")),
    # Intake tokens are per project: another project's key answers 404 (the route is POST).
    "api/v1/projects/<key>/events/": Route(API, one(lambda s: f"/api/v1/projects/{s.key}/events/")),
    "api/v1/issues/<key>": Route(API, one(lambda s: f"/api/v1/issues/{s.issue.key}")),
    "api/v1/issues": Route(API, one(lambda s: "/api/v1/issues")),
    "api/v1/issues/<key>/comments": Route(
        API, one(lambda s: f"/api/v1/issues/{s.issue.key}/comments")
    ),
    "api/v1/issues/<key>/custom-fields": Route(
        API,
        one(lambda s: f"/api/v1/issues/{s.issue.key}/custom-fields"),
        posts=False,
        own_get=(405,),
    ),
    "api/v1/issues/<key>/transitions": Route(
        API, one(lambda s: f"/api/v1/issues/{s.issue.key}/transitions")
    ),
    "api/v1/issues/<key>/links": Route(API, one(lambda s: f"/api/v1/issues/{s.issue.key}/links")),
    "api/v1/issues/<key>/links/<link_id>": Route(
        API, one(lambda s: f"/api/v1/issues/{s.issue.key}/links/{s.link.pk}")
    ),
    "projects/<str:key>/intake/": Route(FOREIGN, one(lambda s: f"/projects/{s.key}/intake/")),
    "projects/<str:key>/intake/tokens/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/intake/tokens/"),
        post=lambda s: {"name": "planted"},
        own_get=(405,),
    ),
    "projects/<str:key>/intake/tokens/<int:pk>/revoke/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/intake/tokens/{s.intake_token.pk}/revoke/"),
        own_get=(405,),
    ),
    "projects/<str:key>/intake/settings/": Route(
        FOREIGN, one(lambda s: f"/projects/{s.key}/intake/settings/"), own_get=(405,)
    ),
    "projects/<str:key>/intake/groups/<int:pk>/": Route(
        FOREIGN, one(lambda s: f"/projects/{s.key}/intake/groups/{s.group.pk}/")
    ),
    # Issue templates and playbooks (tests/playbooks): another project's answer 404.
    "issues/<str:key>/playbook/<int:item_id>/": Route(
        FOREIGN, one(lambda s: f"/issues/{s.issue.key}/playbook/1/"), own_get=(405,)
    ),
    "projects/<str:key>/templates/": Route(
        FOREIGN, one(lambda s: f"/projects/{s.key}/templates/"), posts=False
    ),
    "projects/<str:key>/templates/<str:type>/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/templates/bug/"),
        post=lambda s: {"description": "Planted"},
    ),
    "projects/<str:key>/components/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/components/"),
        post=lambda s: {"name": "probe"},
    ),
    "projects/<str:key>/components/<int:pk>/": Route(
        FOREIGN, one(lambda s: f"/projects/{s.key}/components/{s.component.pk}/")
    ),
    "projects/<str:key>/components/<int:pk>/archive/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/components/{s.component.pk}/archive/"),
        own_get=(405,),
    ),
    "projects/<str:key>/versions/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/versions/"),
        post=lambda s: {"name": "probe"},
    ),
    "projects/<str:key>/versions/<int:pk>/edit/": Route(
        FOREIGN, one(lambda s: f"/projects/{s.key}/versions/{s.version.pk}/edit/")
    ),
    "projects/<str:key>/versions/<int:pk>/": Route(
        FOREIGN, one(lambda s: f"/projects/{s.key}/versions/{s.version.pk}/"), posts=False
    ),
    "projects/<str:key>/intake/rules/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/intake/rules/"),
        post=lambda s: {"position": 1, "match_component": "x"},
    ),
    "projects/<str:key>/intake/rules/<int:pk>/delete/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/intake/rules/{s.rule.pk}/delete/"),
        own_get=(405,),
    ),
    "projects/<str:key>/webhooks/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/webhooks/"),
        post=lambda s: {"url": "https://planted.example/", "event_types": ["issue.created"]},
    ),
    "projects/<str:key>/webhooks/<int:pk>/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/webhooks/{s.webhook.pk}/"),
        post=lambda s: {"url": "https://planted.example/", "event_types": ["issue.created"]},
    ),
    "projects/<str:key>/webhooks/<int:pk>/ping/": Route(
        FOREIGN, one(lambda s: f"/projects/{s.key}/webhooks/{s.webhook.pk}/ping/"), own_get=(405,)
    ),
    "projects/<str:key>/webhooks/<int:pk>/rotate/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/webhooks/{s.webhook.pk}/rotate/"),
        own_get=(405,),
    ),
    "projects/<str:key>/webhooks/<int:pk>/deliveries/<int:delivery>/redeliver/": Route(
        FOREIGN,
        one(
            lambda s: (
                f"/projects/{s.key}/webhooks/{s.webhook.pk}/deliveries/"
                f"{s.webhook_delivery.pk}/redeliver/"
            )
        ),
        own_get=(405,),
    ),
    # Webhooks through the API: Managers of the project only (tests/webhooks/test_api.py).
    "api/v1/projects/<key>/templates": Route(
        API, one(lambda s: f"/api/v1/projects/{s.key}/templates")
    ),
    "api/v1/projects/<key>/templates/<type>": Route(
        API, one(lambda s: f"/api/v1/projects/{s.key}/templates/bug"), own_get=(405,)
    ),
    "api/v1/issues/<key>/checklist": Route(
        API, one(lambda s: f"/api/v1/issues/{s.issue.key}/checklist")
    ),
    "api/v1/issues/<key>/checklist/<item_id>": Route(
        API, one(lambda s: f"/api/v1/issues/{s.issue.key}/checklist/1"), own_get=(405,)
    ),
    "api/v1/projects/<key>/components": Route(
        API, one(lambda s: f"/api/v1/projects/{s.key}/components")
    ),
    "api/v1/projects/<key>/versions": Route(
        API, one(lambda s: f"/api/v1/projects/{s.key}/versions")
    ),
    "api/v1/projects/<key>/webhooks": Route(
        API, one(lambda s: f"/api/v1/projects/{s.key}/webhooks")
    ),
    "api/v1/projects/<key>/webhooks/<pk>": Route(
        API, one(lambda s: f"/api/v1/projects/{s.key}/webhooks/{s.webhook.pk}")
    ),
    "api/v1/projects/<key>/webhooks/<pk>/rotate-secret": Route(
        API, one(lambda s: f"/api/v1/projects/{s.key}/webhooks/{s.webhook.pk}/rotate-secret")
    ),
    "api/v1/projects/<key>/webhooks/<pk>/ping": Route(
        API, one(lambda s: f"/api/v1/projects/{s.key}/webhooks/{s.webhook.pk}/ping")
    ),
    "api/v1/projects/<key>/webhooks/<pk>/deliveries": Route(
        API, one(lambda s: f"/api/v1/projects/{s.key}/webhooks/{s.webhook.pk}/deliveries")
    ),
    "api/v1/projects/<key>/webhooks/<pk>/deliveries/<delivery_id>/redeliver": Route(
        API,
        one(
            lambda s: (
                f"/api/v1/projects/{s.key}/webhooks/{s.webhook.pk}/deliveries/"
                f"{s.webhook_delivery.pk}/redeliver"
            )
        ),
    ),
    "projects/<str:key>/intake/sdk/": Route(
        FOREIGN, one(lambda s: f"/projects/{s.key}/intake/sdk/")
    ),
    "projects/<str:key>/intake/sdk/dsn/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/intake/sdk/dsn/"),
        post=lambda s: {"name": "planted"},
        own_get=(405,),
    ),
    "projects/<str:key>/intake/sdk/dsn/<int:pk>/revoke/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/intake/sdk/dsn/{_dsn_key(s).pk}/revoke/"),
        own_get=(405,),
    ),
    "projects/<str:key>/intake/sdk/protection/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/intake/sdk/protection/"),
        post=lambda s: {"scrub_fields": "", "sdk_retention_days": 1, "sdk_events_per_group": 1},
        own_get=(405,),
    ),
    # Sentry SDKs authenticate with the DSN's key, never a session (tests/intake/test_sentry_*).
    "api/<int:project_id>/envelope/": Route(
        API, one(lambda s: f"/api/{s.issue.project_id}/envelope/")
    ),
    "api/<int:project_id>/store/": Route(API, one(lambda s: f"/api/{s.issue.project_id}/store/")),
    "projects/<str:key>/mail/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/mail/"),
        post=lambda s: {
            "address": "planted@evil.example",
            "type": "bug",
            "priority": 2,
            "severity": 2,
        },
    ),
    "projects/<str:key>/mail/who/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/mail/who/"),
        post=lambda s: {"accept_from": "anyone"},
        own_get=(405,),
    ),
    "projects/<str:key>/mail/addresses/<int:pk>/remove/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/mail/addresses/{s.mail_address.pk}/remove/"),
        own_get=(405,),
    ),
    "projects/<str:key>/mail/messages/<int:pk>/": Route(
        FOREIGN,
        one(lambda s: f"/projects/{s.key}/mail/messages/{s.mail_message.pk}/"),
        post=lambda s: {"action": "release"},
        own_get=(405,),
    ),
    "projects/<str:key>/mail/messages/<int:pk>/raw/": Route(
        FOREIGN, one(lambda s: f"/projects/{s.key}/mail/messages/{s.mail_message.pk}/raw/")
    ),
    "triage/": Route(SCOPED, one(lambda s: "/triage/"), posts=False),
    "triage/availability/": Route(SCOPED, one(lambda s: "/triage/availability/")),
}

# The Django admin: every pattern is staff-only by construction (AdminSite.admin_view), so it
# is classified by rule; the login page is public.
ADMIN_VALUES = {
    "<path:object_id>": "1",
    "<path:content_type_id>": "1",
    "<id>": "1",
    "^(?P<app_label>auth|accounts|projects|issues|customfields|workflows|notifications|webhooks|mailin)/$": (
        "issues/"
    ),
    "(?P<url>.*)$": "no-such-page/",
}


def _dsn_key(side: Side) -> DsnKey:
    """The project's DSN key (one is made on first use)."""
    key = DsnKey.objects.filter(project=side.issue.project).first()
    return key or create_dsn_key(side.issue.project, name="matrix", actor=side.issue.reporter)


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def all_routes() -> list[str]:
    return list(dict.fromkeys(_walk(get_resolver().url_patterns)))


def admin_url(route: str) -> str:
    url = "/" + route
    for placeholder, value in ADMIN_VALUES.items():
        url = url.replace(placeholder, value)
    assert "<" not in url and "(" not in url, f"teach ADMIN_VALUES about {route}"
    return url


def classify(route: str) -> Route | None:
    if route.startswith("admin/"):
        if route == "admin/login/":
            return Route(PUBLIC, one(lambda s: "/admin/login/"))
        return Route(ADMIN, one(lambda s, r=route: admin_url(r)))
    return ROUTES.get(route)


def test_every_url_pattern_is_classified():
    missing = [r for r in all_routes() if classify(r) is None]
    assert not missing, "\n".join(f"classify new URL {r!r} in ROUTES" for r in missing)
    stale = set(ROUTES) - set(all_routes())
    assert not stale, f"ROUTES names patterns that no longer exist: {sorted(stale)}"


def _is_login_redirect(response, login="/accounts/login/") -> bool:
    return response.status_code == 302 and response["Location"].startswith(login)


def _is_admin_refusal(response) -> bool:
    # Every admin page sends non-staff to the admin login (its logout: to the admin index,
    # which does the same).
    return _is_login_redirect(response, "/admin/login/") or (
        response.status_code == 302 and response["Location"] == "/admin/"
    )


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _snapshot(side: Side) -> dict:
    """Everything of one project a foreign persona could try to change."""
    pid = side.issue.project_id
    _dsn_key(side)  # made before, not while, the URLs are tried
    return {
        "issues": list(Issue.objects.filter(project_id=pid).order_by("pk").values()),
        "events": IssueEvent.objects.filter(issue__project_id=pid).count(),
        "comments": Comment.objects.filter(issue__project_id=pid).count(),
        "attachments": Attachment.objects.filter(issue__project_id=pid).count(),
        "links": IssueLink.objects.filter(source__project_id=pid).count(),
        "filter": SavedFilter.objects.filter(pk=side.saved_filter.pk).exists(),
        "note_read": Notification.objects.get(pk=side.notification.pk).read_at,
        "tokens": list(IntakeToken.objects.filter(project_id=pid).values("pk", "revoked_at")),
        "rules": AssignmentRule.objects.filter(project_id=pid).count(),
        "dsn_keys": list(DsnKey.objects.filter(project_id=pid).values("pk", "revoked_at")),
        "sdk": IntakeSettings.objects.filter(project_id=pid)
        .values_list("sdk_retention_days")
        .first(),
        "api_token": list(ApiToken.objects.filter(pk=side.api_token_pk).values("revoked_at")),
    }


def test_anonymous_is_sent_to_login_everywhere(client, world):
    side = world["OPS"]
    for route in all_routes():
        spec = classify(route)
        for url in spec.urls(side):
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                cell = f"anonymous {method.upper()} {url}"
                assert response.status_code < 500, cell
                if spec.kind in (SCOPED, FOREIGN):
                    assert _is_login_redirect(response), cell
                elif spec.kind == ADMIN:
                    assert _is_admin_refusal(response), cell
                elif spec.kind == API:
                    assert response.status_code in (401, 405), cell
                    assert side.secret.encode() not in response.content, cell


ROLES = ["reporter", "developer", "tester", "manager", "outsider"]


@pytest.mark.parametrize("role", ROLES)
def test_persona_never_reaches_another_projects_objects(client, world, role, request):
    user = request.getfixturevalue(role)
    own, foreign = (
        (world["OPS"], world["WEB"]) if role == "outsider" else (world["WEB"], world["OPS"])
    )
    client.force_login(user)
    before = _snapshot(foreign)
    for route in all_routes():
        spec = classify(route)
        if spec.kind in (PUBLIC, API) or (spec.kind == ADMIN and role != "reporter"):
            continue  # admin: the same refusal for every non-staff persona, checked once
        for url in spec.urls(foreign):
            get = client.get(url)
            cell = f"{role} GET {url}"
            if spec.kind == ADMIN:
                assert _is_admin_refusal(get), cell
                continue
            assert get.status_code < 500, cell
            if spec.kind == FOREIGN:
                assert get.status_code in (403, 404, 405), f"{cell}: {get.status_code}"
            body = _body(get)
            assert foreign.secret.encode() not in body, f"{cell} shows the other project's data"
            if spec.kind == FOREIGN or spec.posts:
                post = client.post(url, spec.post(foreign))
                cell = f"{role} POST {url}"
                assert post.status_code < 500, cell
                if spec.kind == FOREIGN:
                    assert post.status_code in (403, 404), f"{cell}: {post.status_code}"
                assert foreign.secret.encode() not in _body(post), cell
        if spec.kind == FOREIGN and role == "manager":
            # The owning project's manager reaches the same URL: the 404s above are access.
            for url in spec.urls(own):
                assert client.get(url).status_code in spec.own_get, f"own GET {url}"
    assert _snapshot(foreign) == before, f"{role} changed another project's data"


@pytest.mark.parametrize("role", ROLES)
def test_api_tokens_reach_only_their_users_projects(client, world, role, request):
    """Bearer tokens (personal and intake) are held to the same matrix as the pages."""
    from api.services import create_api_token

    user = request.getfixturevalue(role)
    foreign = world["WEB"] if role == "outsider" else world["OPS"]
    own = world["OPS"] if role == "outsider" else world["WEB"]
    secret = create_api_token(user, name="matrix")[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    before = _snapshot(foreign)
    read = client.get(f"/api/v1/issues/{foreign.issue.key}", **auth)
    assert read.status_code == 404 and foreign.secret.encode() not in read.content
    filed = client.post(
        "/api/v1/issues",
        {"project": foreign.key, "title": "Planted"},
        content_type="application/json",
        **auth,
    )
    assert filed.status_code == 404, filed.content
    for path, body in (
        ("comments", {"body": "Planted"}),
        ("transitions", {"to": "closed"}),
        ("links", {"target": own.issue.key, "kind": "relates"}),
    ):
        posted = client.post(
            f"/api/v1/issues/{foreign.issue.key}/{path}",
            body,
            content_type="application/json",
            **auth,
        )
        assert posted.status_code == 404, (path, posted.content)
        assert foreign.secret.encode() not in posted.content
    for method, path in (
        ("get", f"/api/v1/issues/{foreign.issue.key}/links"),
        ("delete", f"/api/v1/issues/{foreign.issue.key}/links/{foreign.link.pk}"),
    ):
        answered = getattr(client, method)(path, **auth)
        assert answered.status_code == 404, (path, answered.content)
        assert foreign.secret.encode() not in answered.content
    listed = client.get("/api/v1/issues", **auth)
    assert listed.status_code == 200 and foreign.secret.encode() not in listed.content
    # An intake token of one project cannot post to another's; a personal token is no intake
    # token.
    for bearer in (own_intake := _intake_secret(own), secret):
        posted = client.post(
            f"/api/v1/projects/{foreign.key}/events/",
            {"title": "Planted"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {bearer}",
        )
        assert posted.status_code in (401, 404), (bearer == own_intake, posted.content)
    assert _snapshot(foreign) == before
    # The same token reads its own project's issue: the 404 above is access, not a bad URL.
    assert client.get(f"/api/v1/issues/{own.issue.key}", **auth).status_code == 200


def _intake_secret(side: Side) -> str:
    from intake.services import create_intake_token

    return create_intake_token(side.issue.project, name="other", actor=side.issue.reporter)[1]


# --- Related objects ----------------------------------------------------------------------
# The page's own object is checked above; these cells check every panel that names a *second*
# issue (the Links panel, link records in the activity, Markdown, similar issues, the inbox
# and e-mails, the API's links and detail, "duplicate of"). Each persona looks at its own
# project's issues, which `crossed` linked, both ways and once removed, to issues of the
# project the persona is not in. The other issue may appear only as "a linked issue in a
# project you cannot see": no key, no title, no URL. Changing such a link is refused with
# nothing written on either issue.


def _names(body: bytes, side: Side) -> list[str]:
    """What a response names of `side`'s issues: their secret title word or their keys."""
    text = body.decode()
    found = [side.secret] if side.secret in text else []
    for number in Issue.objects.filter(project_id=side.issue.project_id).values_list(
        "number", flat=True
    ):
        key = f"{side.key}-{number}"
        if re.search(rf"(?<![\w-]){re.escape(key)}(?!\d)", text):
            found.append(key)
    return found


def _both_sides(world) -> dict:
    return {"WEB": _snapshot(world["WEB"]), "OPS": _snapshot(world["OPS"])}


def _related_pages(own: Side, foreign: Side) -> dict[str, tuple[str, int]]:
    """Pages of the persona's own project that render a related issue: what → (URL, status)."""
    return {
        "issue page (source of a cross link)": (f"/issues/{own.issue.key}/", 200),
        "issue page (target of a cross link)": (f"/issues/{own.link.target.key}/", 200),
        "similar issues (htmx)": (
            f"/issues/similar/?project={own.issue.project_id}&title={foreign.probe}",
            200,
        ),
        "CSV export": ("/issues/export.csv", 200),
        "inbox": ("/notifications/", 200),
        "triage": ("/triage/", 200),
    }


@pytest.mark.parametrize("role", ROLES)
def test_related_issues_of_a_foreign_project_are_never_named(
    client, world, crossed, role, request, mailoutbox, django_capture_on_commit_callbacks
):
    user = request.getfixturevalue(role)
    own, foreign = (
        (world["OPS"], world["WEB"]) if role == "outsider" else (world["WEB"], world["OPS"])
    )
    client.force_login(user)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {create_api_token(user, name='matrix')[1]}"}
    # Markdown naming the other project's key, on an issue of the persona's own project, and
    # the notifications outbox fanned out (watchers hear of the link records' issues).
    noted = make_issue(own.issue.project, user, title="Mentions")
    add_comment(
        noted, author=crossed.bridge, body=f"Same as {foreign.issue.key}, see #{foreign.issue.key}"
    )
    with django_capture_on_commit_callbacks(execute=True):
        process_outbox()

    for what, (url, status) in _related_pages(own, foreign).items():
        response = client.get(url)
        cell = f"{role}: {what} ({url})"
        assert response.status_code == status, f"{cell}: {response.status_code}"
        assert _names(_body(response), foreign) == [], f"{cell} names the other project's issue"
    for key in (own.issue.key, own.link.target.key):
        page = client.get(f"/issues/{key}/").text
        assert HIDDEN_LINKED_ISSUE in page, f"{role}: the Links panel of {key}"
    assert HIDDEN_ISSUE in client.get(f"/issues/{own.issue.key}/").text, "link records"
    mentioned = client.get(noted.get_absolute_url())
    assert foreign.secret not in mentioned.text
    assert f'href="/issues/{foreign.issue.key}/' not in mentioned.text, "Markdown links a key"
    # The new-issue form shows similar issues of the chosen project only.
    typed = client.post(
        f"/projects/{own.key}/issues/new/",
        {"project": own.issue.project_id, "title": foreign.probe, "priority": "9"},
    )
    assert typed.status_code == 400 and _names(typed.content, foreign) == [], role
    # The API: the issue's links and its detail.
    for key in (own.issue.key, own.link.target.key):
        links = client.get(f"/api/v1/issues/{key}/links", **auth)
        assert links.status_code == 200 and _names(links.content, foreign) == [], (role, key)
        hidden = [row for row in links.json() if row["hidden"]]
        assert hidden and all(
            r["issue"] is None and r["text"] == HIDDEN_LINKED_ISSUE for r in hidden
        )
        detail = client.get(f"/api/v1/issues/{key}", **auth)
        assert detail.status_code == 200 and _names(detail.content, foreign) == [], (role, key)
    # E-mails sent for any of this: none names the other project's issues.
    # (The world's mail-in bounce to a stranger quotes the stranger's own subject: not ours.)
    for message in (m for m in mailoutbox if "stranger@evil.example" not in m.to):
        parts = str(getattr(message, "alternatives", ""))
        whole = (message.subject + message.body + parts).encode()
        assert _names(whole, foreign) == [], f"{role}: e-mail {message.subject!r}"

    # Changing a cross link, or making one, is refused; nothing is written on either side.
    before = _both_sides(world)
    for link in crossed.links:
        mine = link.source if link.source.project_id == own.issue.project_id else link.target
        removed = client.post(f"/issues/{mine.key}/links/{link.pk}/delete/")
        cell = f"{role} removes {link}"
        assert removed.status_code == 403, f"{cell}: {removed.status_code}"
        assert LINK_NEEDS_BOTH_ENDS in removed.text and _names(removed.content, foreign) == []
        via_api = client.delete(f"/api/v1/issues/{mine.key}/links/{link.pk}", **auth)
        assert via_api.status_code == 403 and _names(via_api.content, foreign) == [], cell
    for kind in ("relates", "blocks", "duplicates"):
        linked = client.post(
            f"/issues/{own.issue.key}/links/", {"target": foreign.issue.key, "kind": kind}
        )
        assert linked.status_code == 400, f"{role} links to {foreign.issue.key}"
        assert "No issue with this key that you can see." in linked.text
        via_api = client.post(
            f"/api/v1/issues/{own.issue.key}/links",
            {"target": foreign.issue.key, "kind": kind},
            content_type="application/json",
            **auth,
        )
        assert via_api.status_code == 404 and _names(via_api.content, foreign) == [], role
    dismissed = client.post(
        f"/api/v1/issues/{own.issue.key}/transitions",
        {"to": "closed", "resolution": "duplicate", "duplicate_of": foreign.issue.key},
        content_type="application/json",
        **auth,
    )
    assert dismissed.status_code in (400, 403) and _names(dismissed.content, foreign) == []
    assert _both_sides(world) == before, f"{role} changed a cross-project link"
    assert IssueLink.objects.filter(pk__in=[link.pk for link in crossed.links]).count() == 2


def test_someone_in_both_projects_sees_and_changes_both_ends(client, world, crossed):
    """The other side of the cells above: the same panels name the issue for a member of both
    projects (so the absences above are access, not an empty panel), who may remove the link."""
    web, ops = world["WEB"], world["OPS"]
    client.force_login(crossed.bridge)
    page = client.get(f"/issues/{web.issue.key}/").text
    assert ops.issue.key in page and ops.secret in page
    assert (
        f"<strong>{ops.link.target.key}</strong>" in page
        and "in a project you cannot see" not in page
    )
    link = crossed.links[0]
    events = IssueEvent.objects.filter(issue__in=[link.source, link.target]).count()
    removed = client.post(f"/issues/{web.issue.key}/links/{link.pk}/delete/")
    assert removed.status_code == 302
    assert not IssueLink.objects.filter(pk=link.pk).exists()
    assert IssueEvent.objects.filter(issue__in=[link.source, link.target]).count() == events + 2
    assert IssueEvent.objects.filter(issue=link.target, kind="unlinked").exists()
