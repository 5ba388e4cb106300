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

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from api.models import ApiToken
from intake.models import AssignmentRule, IntakeToken
from issues.models import Attachment, Comment, Issue, IssueEvent, IssueLink, SavedFilter
from notifications.models import Notification
from reports.dashboard import TABLE_SECTION

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
    "api/v1/issues/<key>/transitions": Route(
        API, one(lambda s: f"/api/v1/issues/{s.issue.key}/transitions")
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
    "triage/": Route(SCOPED, one(lambda s: "/triage/"), posts=False),
    "triage/availability/": Route(SCOPED, one(lambda s: "/triage/availability/")),
}

# The Django admin: every pattern is staff-only by construction (AdminSite.admin_view), so it
# is classified by rule; the login page is public.
ADMIN_VALUES = {
    "<path:object_id>": "1",
    "<path:content_type_id>": "1",
    "<id>": "1",
    "^(?P<app_label>auth|accounts|projects|issues|workflows|notifications)/$": "issues/",
    "(?P<url>.*)$": "no-such-page/",
}


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
    for path, body in (("comments", {"body": "Planted"}), ("transitions", {"to": "closed"})):
        posted = client.post(
            f"/api/v1/issues/{foreign.issue.key}/{path}",
            body,
            content_type="application/json",
            **auth,
        )
        assert posted.status_code == 404, (path, posted.content)
        assert foreign.secret.encode() not in posted.content
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
