"""No input gets a 500: each class of hostile or odd input (issue 20) tried with many members,
drawn by hypothesis, on every entry point that reads it. Expected: a clear 4xx (or no match),
nothing changed, never a 500.

Classes: numbers beyond 64 bits and digits that are not ASCII digits (ids, keys, filter values,
paths, bulk edit, link targets, duplicate_of); JSON that is valid but not what is expected
(non-finite numbers, odd shapes, a Content-Type that is not JSON); over-long fields.
"""

import json
from urllib.parse import quote, urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.services import create_api_token
from intake.models import Occurrence
from intake.payloads import PayloadError, parse_events
from intake.services import create_intake_token
from issues.inputs import MAX_ID, parse_id, parse_issue_key
from issues.limits import TEXT_MAX_CHARS, TITLE_MAX_CHARS
from issues.models import Comment, Issue, IssueLink
from issues.services import IssueError, add_comment
from tests.factories import make_issue
from workflows.issue_use_cases import create_issue

pytestmark = pytest.mark.django_db

PROBE = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Digits that are not ASCII digits: superscripts and circled digits (str.isdigit() is True,
# int() fails) and other scripts' digits (int() converts them silently).
UNICODE_DIGITS = st.text(
    alphabet=st.characters(categories=["Nd", "No"], exclude_characters="0123456789"),
    min_size=1,
    max_size=12,
)
HUGE = st.integers(min_value=MAX_ID + 1, max_value=10**40).map(str)
NEGATIVE = st.integers(max_value=-1, min_value=-(10**30)).map(str)
ODD_NUMBERS = st.one_of(
    UNICODE_DIGITS,
    HUGE,
    NEGATIVE,
    st.sampled_from(["1e3", "0x10", "1_000", " 1 2", "+1", "1.0", "NaN", "\x00", "", "٣", "１"]),
    st.text(max_size=20),
)
ODD_KEYS = st.one_of(
    st.builds(lambda n: f"WEB-{n}", ODD_NUMBERS),
    st.builds(lambda p, n: f"{p}-{n}", st.text(min_size=1, max_size=12), st.text(max_size=8)),
    st.text(max_size=40),
)


def _ok(response):
    assert response.status_code < 500, (response.status_code, response.content[:300])
    return response


# --- the parsing edge itself --------------------------------------------------------------


@given(ODD_NUMBERS)
def test_only_ascii_digits_within_64_bits_are_ids(text):
    value = parse_id(text)
    stripped = text.strip()
    if value is not None:
        assert stripped.isascii() and stripped.isdigit() and int(stripped) <= MAX_ID


@given(st.integers(min_value=0, max_value=MAX_ID))
def test_every_id_in_range_is_read(number):
    assert parse_id(str(number)) == number
    assert parse_id(f" {number} ") == number


@given(ODD_KEYS)
def test_keys_are_letters_a_dash_and_ascii_digits(text):
    parsed = parse_issue_key(text)
    if parsed is not None:
        key, number = parsed
        assert key.isascii() and key.isalnum() and key[0].isalpha()
        assert 1 <= number < 2**31


# --- pages: paths, query strings, forms ---------------------------------------------------


@PROBE
@given(key=ODD_KEYS)
def test_odd_keys_in_paths_are_404(client, project, manager, key):
    client.force_login(manager)
    for suffix in ("", "edit/", "timeline/", "sla/"):
        response = _ok(client.get(f"/issues/{quote(key, safe='')}/{suffix}"))
        assert response.status_code in (404, 302, 301), key


@PROBE
@given(value=ODD_NUMBERS)
def test_odd_numbers_in_list_dashboard_and_csv_filters(client, project, manager, value):
    client.force_login(manager)
    for name in ("project", "team", "owner", "reporter", "priority", "severity", "page",
                 "per_page", "keys", "q"):  # fmt: skip
        _ok(client.get("/issues/", {name: value}))
    _ok(client.get("/issues/", {"keys": f"WEB-{value},{value}"}))
    _ok(client.get("/issues/", {"q": f"WEB-{value}"}))
    _ok(client.get("/issues/export.csv", {"project": value}))
    _ok(client.get("/issues/similar/", {"project": value, "title": "checkout"}))
    for name in ("project", "team"):
        _ok(client.get("/dashboard/", {name: value}))
    _ok(client.get("/dashboard/issues/", {"priority": value, "severity": value, "project": value}))


@PROBE
@given(value=ODD_NUMBERS)
def test_odd_ids_in_bulk_edit_change_nothing(client, project, manager, value):
    issue = make_issue(project, manager, title="Bulk me", priority=2)
    client.force_login(manager)
    _ok(client.post("/issues/bulk/", {"issues": [value], "priority": "3"}))
    _ok(client.post("/issues/bulk/", {"issues": [str(issue.pk)], "owner": value}))
    issue.refresh_from_db()
    assert issue.priority == 2


@PROBE
@given(target=ODD_KEYS)
def test_odd_link_targets_are_a_field_error(client, project, manager, target):
    issue = make_issue(project, manager, title="Link me")
    client.force_login(manager)
    response = _ok(client.post(f"/issues/{issue.key}/links/", {"kind": "relates",
                                                                "target": target}))  # fmt: skip
    assert response.status_code in (302, 400)
    assert not IssueLink.objects.exclude(target__project=project).exists()


@PROBE
@given(value=ODD_KEYS)
def test_odd_duplicate_of_on_the_close_form(client, project, manager, value):
    issue = make_issue(project, manager, title="Dupe?")
    client.force_login(manager)
    response = _ok(
        client.post(
            f"/issues/{issue.key}/transition/closed/",
            {
                "closed-resolution": "duplicate",
                "closed-duplicate_of": value,
                "closed-expected_status": "new",
            },
        )  # fmt: skip
    )
    assert response.status_code in (400, 302)
    issue.refresh_from_db()
    if parse_issue_key(value) is None:
        assert issue.status == "new"


# --- the API ------------------------------------------------------------------------------


@PROBE
@given(value=ODD_NUMBERS, key=ODD_KEYS)
def test_odd_numbers_and_keys_in_the_issues_api(client, project, manager, value, key):
    secret = create_api_token(manager, name="probe")[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    for name in ("project", "team", "owner", "page", "per_page", "priority", "keys"):
        response = _ok(client.get(f"/api/v1/issues?{urlencode({name: value})}", **auth))
        assert response["Content-Type"].startswith("application/json")
    _ok(client.get(f"/api/v1/issues/{quote(key, safe='')}", **auth))
    issue = make_issue(project, manager, title="API dupe?")
    response = _ok(
        client.post(
            f"/api/v1/issues/{issue.key}/transitions",
            json.dumps({"to": "closed", "resolution": "duplicate", "duplicate_of": key}),
            content_type="application/json",
            **auth,
        )
    )
    assert response["Content-Type"].startswith("application/json")


# --- JSON that is valid but not what is expected ------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)  # fmt: skip
FIELDS = ["title", "message", "level", "tags", "timestamp", "event_id", "fingerprint", "extra",
          "event", "data", "alerts", "labels", "annotations", "culprit", "status", "version"]  # fmt: skip
SHAPES = st.one_of(
    JSON,
    st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6),
    st.builds(lambda e: {"data": {"event": e}}, JSON),
    st.builds(lambda e: {"event": e, "culprit": "x"}, JSON),
    st.builds(lambda a: {"version": "4", "receiver": "r", "alerts": a}, JSON),
    st.builds(
        lambda alert: {"version": "4", "receiver": "r", "alerts": [alert]},
        st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=5),
    ),
)


@settings(max_examples=400, deadline=None)
@given(data=SHAPES, fmt=st.sampled_from([None, "generic", "sentry", "alertmanager"]))
def test_any_json_is_events_or_a_payload_error(data, fmt):
    try:
        events, ignored = parse_events(data, format=fmt)
    except PayloadError as error:
        assert error.detail
    else:
        assert all(event.title for event in events) and ignored >= 0


@pytest.fixture
def intake_secret(project, manager):
    return create_intake_token(project, name="probe", actor=manager)[1]


def _post_event(client, project, secret, body, content_type="application/json", fmt=None):
    url = f"/api/v1/projects/{project.key}/events/" + (f"?format={fmt}" if fmt else "")
    return client.post(
        url, data=body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {secret}"
    )


@PROBE
@given(data=SHAPES, fmt=st.sampled_from([None, "sentry", "alertmanager"]))
def test_any_json_shape_at_the_intake_endpoint(client, project, intake_secret, data, fmt):
    response = _ok(_post_event(client, project, intake_secret, json.dumps(data), fmt=fmt))
    assert response.status_code in (200, 202, 400)
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("sentry_event", ["a string", None, [1, 2], 42, True])
def test_a_sentry_event_that_is_not_an_object(client, project, intake_secret, sentry_event):
    for body in ({"data": {"event": sentry_event}}, {"event": sentry_event, "culprit": "x"}):
        response = _post_event(client, project, intake_secret, json.dumps(body), fmt="sentry")
        assert response.status_code == 400
        assert "must be an object" in response.json()["detail"]
    assert not Occurrence.objects.exists()


NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E309"]


@pytest.mark.parametrize("number", NON_FINITE)
def test_non_finite_numbers_are_not_json(client, project, manager, intake_secret, number):
    body = '{"title": "Boom", "extra": {"load": NUMBER}}'.replace("NUMBER", number)
    response = _post_event(client, project, intake_secret, body)
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert not Occurrence.objects.exists()
    secret = create_api_token(manager, name="probe")[1]
    response = client.post(
        "/api/v1/issues",
        '{"project": "WEB", "title": "x", "priority": NUMBER}'.replace("NUMBER", number),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert not Issue.objects.exists()


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/jsonp", "text/json", ""],
)  # fmt: skip
def test_a_body_that_is_not_declared_json_is_415(
    client, project, manager, intake_secret, content_type
):
    body = json.dumps({"title": "Boom"})
    response = _post_event(client, project, intake_secret, body, content_type=content_type)
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]
    secret = create_api_token(manager, name="probe")[1]
    response = client.post(
        "/api/v1/issues",
        json.dumps({"project": "WEB", "title": "x"}),
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 415
    assert not Issue.objects.exists() and not Occurrence.objects.exists()


def test_json_with_a_charset_or_a_json_suffix_is_accepted(client, project, intake_secret):
    for content_type in ("application/json; charset=utf-8", "application/vnd.sentry+json"):
        body = json.dumps({"title": f"Boom {content_type}"})
        response = _post_event(client, project, intake_secret, body, content_type=content_type)
        assert response.status_code == 202, response.content


# --- size: one limit per field, everywhere ------------------------------------------------


@pytest.mark.parametrize("extra", [1, 1000, 100_000])
def test_a_long_title_is_a_field_error_on_the_form_and_the_api(client, project, manager, extra):
    title = "x" * (TITLE_MAX_CHARS + extra)
    client.force_login(manager)
    response = client.post(
        "/issues/new/",
        {"project": project.pk, "title": title, "type": "bug", "priority": 2, "severity": 2},
    )
    assert response.status_code == 400
    assert f"at most {TITLE_MAX_CHARS} characters" in response.text
    secret = create_api_token(manager, name="probe")[1]
    response = client.post(
        "/api/v1/issues",
        json.dumps({"project": "WEB", "title": title}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 400 and response.json()["field"] == "title"
    assert not Issue.objects.exists()


def test_a_long_title_on_the_edit_form(client, project, manager):
    issue = make_issue(project, manager, title="Short")
    client.force_login(manager)
    response = client.post(
        f"/issues/{issue.key}/edit/",
        {"title": "y" * (TITLE_MAX_CHARS + 1), "type": "bug", "priority": 2, "severity": 2,
         "version": issue.version},
    )  # fmt: skip
    assert response.status_code == 400
    assert f"at most {TITLE_MAX_CHARS} characters" in response.text
    issue.refresh_from_db()
    assert issue.title == "Short"


def test_comments_over_the_limit_are_refused_by_the_form_and_the_api(client, project, manager):
    issue = make_issue(project, manager, title="Talk")
    body = "word " * (TEXT_MAX_CHARS // 5 + 1)
    client.force_login(manager)
    response = client.post(f"/issues/{issue.key}/comments/", {"body": body})
    assert response.status_code == 400
    assert f"at most {TEXT_MAX_CHARS:,} characters" in response.text
    secret = create_api_token(manager, name="probe")[1]
    response = client.post(
        f"/api/v1/issues/{issue.key}/comments",
        json.dumps({"body": body}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 400 and response.json()["field"] == "body"
    assert not Comment.objects.exists()
    # Exactly at the limit is fine.
    client.post(f"/issues/{issue.key}/comments/", {"body": "w" * TEXT_MAX_CHARS})
    assert Comment.objects.count() == 1


def test_descriptions_over_the_limit_are_refused(client, project, manager):
    client.force_login(manager)
    response = client.post(
        "/issues/new/",
        {"project": project.pk, "title": "Long", "description": "d" * (TEXT_MAX_CHARS + 1),
         "type": "bug", "priority": 2, "severity": 2},
    )  # fmt: skip
    assert response.status_code == 400
    assert f"at most {TEXT_MAX_CHARS:,} characters" in response.text
    assert not Issue.objects.exists()


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"title": "t" * (TITLE_MAX_CHARS + 1)}, "title"),
        ({"title": "ok", "description": "d" * (TEXT_MAX_CHARS + 1)}, "description"),
        ({"title": "ok", "environment": "e" * 121}, "environment"),
        ({"title": "ok", "affected_version": "v" * 61}, "affected_version"),
    ],
)
def test_the_services_enforce_the_limits_for_every_caller(project, manager, fields, field):
    # Mail-in, intake and seeding call the services: the limit holds there too.
    with pytest.raises(IssueError) as refused:
        create_issue(project, reporter=manager, **fields)
    assert refused.value.field == field
    issue = make_issue(project, manager, title="ok")
    with pytest.raises(IssueError) as refused:
        add_comment(issue, author=manager, body="c" * (TEXT_MAX_CHARS + 1),
                    attachments=[SimpleUploadedFile("a.txt", b"x")])  # fmt: skip
    assert refused.value.field == "body"
    assert Issue.objects.count() == 1 and not Comment.objects.exists()


@PROBE
@given(number=st.integers(min_value=MAX_ID + 1, max_value=10**30))
def test_ids_beyond_64_bits_in_paths_are_404(client, project, manager, number):
    issue = make_issue(project, manager, title="Paths")
    client.force_login(manager)
    for path, method in [
        (f"/issues/{issue.key}/attachments/{number}/", "get"),
        (f"/issues/{issue.key}/links/{number}/delete/", "post"),
        (f"/issues/filters/{number}/delete/", "post"),
        (f"/notifications/{number}/read/", "post"),
        (f"/notifications/{number}/open/", "get"),
        (f"/accounts/api-tokens/{number}/revoke/", "post"),
        (f"/projects/{project.key}/intake/groups/{number}/", "get"),
        (f"/projects/{project.key}/intake/rules/{number}/delete/", "post"),
    ]:
        response = _ok(getattr(client, method)(path))
        assert response.status_code in (404, 405), path
