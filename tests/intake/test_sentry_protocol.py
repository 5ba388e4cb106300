"""The SDK endpoints against hostile and odd input: a clear 4xx, never a 500, nothing stored."""

import gzip
import io
import json
import uuid
import zlib

import brotli
import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.models import SdkEvent
from intake.sdk import create_dsn_key, process_sdk_events, purge_sdk_events
from intake.sdk_events import scrub_event
from intake.sdk_protocol import ProtocolError, read_chunked

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(project, manager):
    return create_dsn_key(project, name="Shop", actor=manager)


def _auth(key):
    return {"HTTP_X_SENTRY_AUTH": f"Sentry sentry_version=7, sentry_key={key.public_key}"}


def _event(**extra):
    return {
        "event_id": uuid.uuid4().hex,
        "level": "error",
        "platform": "python",
        "exception": {
            "values": [
                {
                    "type": "ZeroDivisionError",
                    "value": "division by zero",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "shop/cart.py",
                                "function": "total",
                                "lineno": 12,
                                "context_line": "    return a / b",
                                "in_app": True,
                            }
                        ]
                    },
                }
            ]
        },
        **extra,
    }


def _envelope(*items, header=None):
    lines = [json.dumps(header or {}).encode()]
    for item_header, payload in items:
        lines += [json.dumps(item_header).encode(), payload]
    return b"\n".join(lines) + b"\n"


def post(client, key, body, *, path="envelope", project_id=None, **headers):
    pid = project_id if project_id is not None else key.project_id
    return client.generic(
        "POST",
        f"/api/{pid}/{path}/",
        body,
        content_type="application/x-sentry-envelope",
        **{**_auth(key), **headers},
    )


def test_an_envelope_with_an_event_is_stored_and_answered_with_its_id(client, key):
    event = _event()
    response = post(client, key, _envelope(({"type": "event"}, json.dumps(event).encode())))
    assert response.status_code == 200
    assert response.json() == {"id": event["event_id"]}
    assert SdkEvent.objects.get().event_id == event["event_id"]
    # The same event sent again (an SDK retry) is stored once.
    post(client, key, _envelope(({"type": "event"}, json.dumps(event).encode())))
    assert SdkEvent.objects.count() == 1


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_compressed_bodies(client, key, encoding):
    body = _envelope(({"type": "event"}, json.dumps(_event()).encode()))
    packed = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[encoding](
        body
    )
    response = post(client, key, packed, HTTP_CONTENT_ENCODING=encoding)
    assert response.status_code == 200, response.content
    assert SdkEvent.objects.count() == 1


def test_the_store_endpoint_and_the_query_key(client, key):
    event = _event()
    response = client.post(
        f"/api/{key.project_id}/store/?sentry_key={key.public_key}",
        json.dumps(event),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json() == {"id": event["event_id"]}


def test_other_item_types_are_accepted_and_ignored(client, key):
    body = _envelope(
        ({"type": "session"}, b'{"sid": "x"}'),
        ({"type": "client_report"}, b'{"discarded_events": []}'),
        ({"type": "something_new", "length": 3}, b"abc"),
        ({"type": "attachment", "length": 5, "filename": "a.txt"}, b"hello"),
    )
    response = post(client, key, body)
    assert response.status_code == 200
    assert not SdkEvent.objects.exists()


BAD_BODIES = {
    "truncated gzip": (
        gzip.compress(b'{"event_id": "' + b"a" * 32 + b'"}' * 50)[:-10],
        "gzip",
        400,
    ),
    "not gzip at all": (b"plain text", "gzip", 400),
    "unknown encoding": (b"{}", "compress", 415),
    "malformed header": (b"{not json\n", "", 400),
    "header not an object": (b"[1,2]\n", "", 400),
    "item header without type": (b'{}\n{"length": 2}\nab\n', "", 400),
    "item length that lies": (b'{}\n{"type": "event", "length": 99999}\n{}\n', "", 400),
    "negative length": (b'{}\n{"type": "event", "length": -1}\n{}\n', "", 400),
    "event is a string": (b'{}\n{"type": "event"}\n"boom"\n', "", 400),
    "event is null": (b'{}\n{"type": "event"}\nnull\n', "", 400),
    "event is a list": (b'{}\n{"type": "event"}\n[1]\n', "", 400),
    "NaN": (b'{}\n{"type": "event"}\n{"event_id": "' + b"a" * 32 + b'", "x": NaN}\n', "", 400),
    "Infinity": (b'{}\n{"type": "event"}\n{"x": Infinity}\n', "", 400),
    "overflowing number": (b'{}\n{"type": "event"}\n{"x": 1e999}\n', "", 400),
    "deeply nested": (
        b'{}\n{"type": "event"}\n' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"\n",
        "",
        400,
    ),
    "no event id": (b'{}\n{"type": "event"}\n{"message": "hi"}\n', "", 400),
    "not utf-8": (b'{}\n{"type": "event"}\n{"message": "\xff\xfe"}\n', "", 400),
}


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_bad_bodies_get_a_clear_4xx_and_store_nothing(client, key, name):
    body, encoding, status = BAD_BODIES[name]
    headers = {"HTTP_CONTENT_ENCODING": encoding} if encoding else {}
    response = post(client, key, body, **headers)
    assert response.status_code == status, (name, response.content)
    assert response.json()["detail"]
    assert not SdkEvent.objects.exists()


def test_a_20_mb_body_is_refused_before_reading(client, key):
    response = post(client, key, b"x" * (20 * 1024 * 1024))
    assert response.status_code == 413
    assert "larger than 10 MiB" in response.json()["detail"]


def test_a_decompression_bomb_stops_at_the_cap(client, key):
    bomb = gzip.compress(b"\n" * (64 * 1024 * 1024), compresslevel=9)  # 64 MiB of newlines
    assert len(bomb) < 200_000
    response = post(client, key, bomb, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413
    assert not SdkEvent.objects.exists()


def test_keys_wrong_revoked_or_of_another_project(client, key, other_project, outsider):
    body = _envelope(({"type": "event"}, json.dumps(_event()).encode()))
    wrong = client.generic(
        "POST",
        f"/api/{key.project_id}/envelope/",
        body,
        HTTP_X_SENTRY_AUTH="Sentry sentry_key=" + "0" * 32,
    )
    assert wrong.status_code == 401
    missing = client.generic("POST", f"/api/{key.project_id}/envelope/", body)
    assert missing.status_code == 401
    assert post(client, key, body, project_id=other_project.pk).status_code == 403
    other = create_dsn_key(other_project, name="Other", actor=outsider)
    assert post(client, other, body, project_id=key.project_id).status_code == 403
    key.revoked_at = key.created_at
    key.save(update_fields=["revoked_at"])
    assert post(client, key, body).status_code == 401
    assert not SdkEvent.objects.exists()


def test_the_key_may_come_from_the_envelope_header(client, key):
    dsn = f"http://{key.public_key}@example.com/{key.project_id}"
    body = _envelope(({"type": "event"}, json.dumps(_event()).encode()), header={"dsn": dsn})
    response = client.generic("POST", f"/api/{key.project_id}/envelope/", body)
    assert response.status_code == 200


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=400)
    | st.builds(
        lambda parts: b"\n".join(parts),
        st.lists(
            st.sampled_from(
                [
                    b"{}",
                    b'{"type":"event"}',
                    b'{"type":"event","length":3}',
                    b"[]",
                    b"null",
                    b'{"event_id":"' + b"a" * 32 + b'"}',
                    b"",
                    b"\xff",
                    b'{"type":1}',
                ]
            ),
            max_size=8,
        ),
    )
)
def test_no_body_gets_a_500(client, key, body):
    response = post(client, key, body)
    assert response.status_code in (200, 400, 413, 415)


def test_scrubbing_removes_secrets_cards_ibans_and_personal_data():
    event = {
        "user": {"id": 42, "email": "ann@example.com", "ip_address": "10.1.2.3", "username": "ann"},
        "request": {
            "url": "https://shop.example.com/pay",
            "cookies": {"sessionid": "abc"},
            "headers": {"Cookie": "sessionid=abc", "Authorization": "Bearer x", "Accept": "*/*"},
            "data": {"password": "hunter2", "iban": "DE89 3704 0044 0532 0130 00", "note": "ok"},
        },
        "extra": {"card": "4111-1111-1111-1111", "order": "A-1234", "my_custom": "x"},
        "exception": {"values": [{"stacktrace": {"frames": [{"vars": {"api_key": "k", "n": 3}}]}}]},
    }
    clean = scrub_event(event, extra_fields=["my_custom"], drop_local_vars=False)
    text = json.dumps(clean)
    for secret in ("hunter2", "DE89", "4111", "ann@example.com", "10.1.2.3", "abc", "Bearer"):
        assert secret not in text, secret
    assert clean["user"] == {"id": "42"}
    assert clean["extra"]["order"] == "A-1234" and clean["extra"]["my_custom"] == "[Filtered]"
    assert clean["request"]["headers"] == {"Accept": "*/*"}
    frame = clean["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert frame["vars"] == {"api_key": "[Filtered]", "n": 3}
    no_vars = scrub_event(event, drop_local_vars=True)
    assert "vars" not in no_vars["exception"]["values"][0]["stacktrace"]["frames"][0]


def test_processing_groups_repeats_and_retention_deletes_old_events(client, key, project):
    import time_machine

    for _ in range(3):
        post(client, key, _envelope(({"type": "event"}, json.dumps(_event()).encode())))
    assert process_sdk_events() == 3
    issue = project.issues.get()
    assert issue.title == "ZeroDivisionError: division by zero"
    assert SdkEvent.objects.filter(issue=issue).count() == 3
    with time_machine.travel(timezone.now() + timezone.timedelta(days=31)):
        assert purge_sdk_events() == 3
    assert not SdkEvent.objects.exists()
    issue.refresh_from_db()  # the issue and its counts stay
    assert issue.event_groups.get().count == 3


def test_managers_create_and_revoke_dsns_others_cannot(client, project, manager, developer):
    from django.urls import reverse

    client.force_login(developer)
    assert client.get(reverse("intake_sdk", args=[project.key])).status_code == 403
    assert (
        client.post(reverse("intake_dsn_create", args=[project.key]), {"name": "x"}).status_code
        == 403
    )
    client.force_login(manager)
    assert (
        client.post(reverse("intake_dsn_create", args=[project.key]), {"name": ""}).status_code
        == 400
    )
    response = client.post(
        reverse("intake_dsn_create", args=[project.key]), {"name": "Shop backend"}, follow=True
    )
    dsn_key = project.dsn_keys.get()
    assert f"{dsn_key.public_key}@testserver/{project.pk}" in response.text
    assert "sentry_sdk.init(dsn=" in response.text
    client.post(reverse("intake_dsn_revoke", args=[project.key, dsn_key.pk]))
    dsn_key.refresh_from_db()
    assert dsn_key.revoked_at is not None
    bad = client.post(
        reverse("intake_sdk_protection", args=[project.key]),
        {"scrub_fields": "ok, <script>", "sdk_retention_days": 30, "sdk_events_per_group": 100},
    )
    assert bad.status_code == 400 and "is not a field name" in bad.text
    client.post(
        reverse("intake_sdk_protection", args=[project.key]),
        {
            "scrub_fields": "ssn, tax_id",
            "drop_local_vars": "on",
            "sdk_retention_days": 7,
            "sdk_events_per_group": 10,
        },
    )
    cfg = project.intake_settings
    cfg.refresh_from_db()
    assert (
        cfg.scrub_fields == ["ssn", "tax_id"]
        and cfg.drop_local_vars
        and cfg.sdk_retention_days == 7
    )


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"zz\r\nhello\r\n0\r\n\r\n", 400),  # not a hex size
        (b"a\r\nhello", 400),  # the chunk is shorter than it says
        (b"5\r\nhelloXX0\r\n\r\n", 400),  # no CRLF after the chunk
        (b"ffffff\r\n", 413),  # past the limit, refused before reading it
    ],
)
def test_a_bad_chunked_body_is_refused(raw, status):
    stream = io.BytesIO(raw)
    with pytest.raises(ProtocolError) as refused:
        read_chunked(stream.readline, stream.read, 1000)
    assert refused.value.status == status


def test_a_chunked_body_is_decoded_with_its_extensions_and_trailer():
    stream = io.BytesIO(b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT")
    assert read_chunked(stream.readline, stream.read, 1000) == b"hello world"
    assert stream.read() == b"NEXT"  # the connection is left at the next request


@pytest.mark.parametrize("prepared", [True, False])
def test_the_accept_statement_stores_what_the_model_would(client, key, settings, prepared):
    """The raw prepared INSERT (and its unprepared fallback) stores the scrubbed event as the
    ORM reads it back; a repeated event id is stored once and still answered with its id."""
    settings.INTAKE_PREPARED_STATEMENTS = prepared
    event = _event(
        request={"url": "https://shop.example/cart", "headers": {"Cookie": "s=1"}},
        extra={"password": "hunter2", "note": "ünïcode ✓", "n": 1.5, "nested": [{"a": None}]},
    )
    body = _envelope(({"type": "event"}, json.dumps(event).encode()))
    for _ in range(2):
        response = post(client, key, body)
        assert response.status_code == 200
        assert response.json() == {"id": event["event_id"]}
    row = SdkEvent.objects.get()
    expected = scrub_event(event, extra_fields=(), drop_local_vars=False, drop_ip_addresses=False)
    assert row.payload == expected
    assert row.payload["extra"]["password"] != "hunter2"
    assert row.size == len(json.dumps(expected))
    assert (row.project_id, row.key_id, row.event_id) == (key.project_id, key.pk, event["event_id"])
    assert row.processed_at is None and row.error == "" and row.received_at is not None


def test_an_event_that_cannot_be_processed_is_marked_and_the_rest_of_its_batch_is_processed(
    client, key, project
):
    """The batch is processed without a savepoint per event; when one event fails the batch
    is redone one event at a time: that event gets its error, the others count once."""
    good = [_event(), _event()]
    post(client, key, _envelope(({"type": "event"}, json.dumps(good[0]).encode())))
    # A stored event the worker cannot read (e.g. written by an older version): set-up only.
    broken = SdkEvent.objects.create(
        project=project,
        key=key,
        event_id="f" * 32,
        payload=["not", "an", "event"],
        size=17,
        received_at=timezone.now(),
    )
    post(client, key, _envelope(({"type": "event"}, json.dumps(good[1]).encode())))
    assert process_sdk_events() == 3
    broken.refresh_from_db()
    assert broken.processed_at is not None and broken.group_id is None
    assert broken.error == "Could not be processed: AttributeError"
    issue = project.issues.get()
    assert issue.event_groups.get().count == 2
    assert set(SdkEvent.objects.filter(issue=issue).values_list("event_id", flat=True)) == {
        e["event_id"] for e in good
    }
    assert not SdkEvent.objects.filter(processed_at__isnull=True).exists()
    assert process_sdk_events() == 0
