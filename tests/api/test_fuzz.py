"""Schema-driven fuzzing: schemathesis generates requests from the OpenAPI document (and
hypothesis arbitrary JSON); the API never answers 500 — only JSON successes or 4xx errors."""

import json

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from api.main import api
from api.services import create_api_token
from intake.services import create_intake_token, get_intake_settings

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1/"))
application = get_wsgi_application()

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def _keep_test_connection():
    """The real WSGI handler closes the connection after each request, which would end the
    test's transaction; Django's test client does the same as this fixture."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def secrets(project, manager, reporter, settings, _keep_test_connection):
    settings.ALLOWED_HOSTS = ["*"]
    row = get_intake_settings(project)
    row.rate_limit_per_minute = 1_000_000
    row.save()
    return {
        "intake": create_intake_token(project, name="fuzz", actor=manager)[1],
        "personal": create_api_token(reporter, name="fuzz")[1],
    }


@schema.parametrize()
@FUZZ
def test_no_request_from_the_openapi_document_makes_a_500(case, secrets):
    if "events" in case.path:
        # Aim at the real project, so that the generated bodies reach the parser.
        case.path_parameters = {**(case.path_parameters or {}), "key": "WEB"}
        token = secrets["intake"]
    else:
        token = secrets["personal"]
    response = case.call(app=application, headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code != 405:  # schemathesis also tries undocumented methods
        assert response.headers["content-type"][0].startswith("application/json")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=15,
)


def _check(response) -> None:
    assert response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/json")
    json.loads(response.content)


@FUZZ
@given(
    body=JSON,
    fmt=st.sampled_from(["", "?format=generic", "?format=sentry", "?format=alertmanager"]),
)
def test_intake_survives_arbitrary_json(client, secrets, body, fmt):
    response = client.post(
        f"/api/v1/projects/WEB/events/{fmt}",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secrets['intake']}",
    )
    _check(response)


@FUZZ
@given(body=JSON)
def test_filing_survives_arbitrary_json(client, secrets, body):
    response = client.post(
        "/api/v1/issues",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secrets['personal']}",
    )
    _check(response)
