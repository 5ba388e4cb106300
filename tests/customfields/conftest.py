import pytest

from customfields.models import FieldKind
from customfields.services import create_custom_field
from tests.api.conftest import api_get, api_post, token_of  # noqa: F401  (the API tests' helpers)


@pytest.fixture
def affected(project):
    """A number, required before Assigned."""
    return create_custom_field(
        project,
        name="Affected customers",
        slug="affected_customers",
        kind=FieldKind.NUMBER,
        required=True,
        required_from="assigned",
        help_text="How many customers see it.",
        order=1,
    )


@pytest.fixture
def environment(project):
    return create_custom_field(
        project,
        name="Environment",
        slug="env",
        kind=FieldKind.CHOICE,
        options="Production\nStaging\nLocal",
        order=2,
    )


def option(field, label):
    return field.options.get(label=label)
