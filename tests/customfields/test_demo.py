import pytest
from django.core.management import call_command

from customfields.models import CustomField, CustomFieldValue
from issues.models import Issue, Status


@pytest.mark.django_db
def test_demo_has_two_custom_fields_with_values_on_web(settings, client):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    fields = {f.slug: f for f in CustomField.objects.filter(project__key="WEB")}
    assert set(fields) == {"affected_customers", "env"}
    assert fields["affected_customers"].required_from == Status.ASSIGNED
    assert CustomFieldValue.objects.filter(field__in=fields.values()).count() == 9
    first = Issue.objects.get(project__key="WEB", number=1)
    client.login(username="reporter", password="resolve-demo")
    page = client.get(first.get_absolute_url())
    assert 'data-custom-field="affected_customers">1200</dd>' in page.text
    assert 'data-custom-field="env">Production</dd>' in page.text
