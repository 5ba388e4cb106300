"""The issue page's transition panels and hold form are rendered by `lean_form` (Python)
instead of crispy-forms (a template per field and per `<option>`): the markup must stay
crispy's, field for field, valid and invalid, so that pages, scripts and tests see no change."""

import re

import pytest
from django.template import Context, Template

from tests.factories import make_issue
from workflows.forms import HoldForm, TransitionForm
from workflows.transitions import TRANSITIONS

CRISPY = Template("{% load crispy_forms_tags %}{{ form|crispy }}")
LEAN = Template("{% load lean_forms %}{{ form|lean_form }}")


def _norm(html: str) -> str:
    html = re.sub(r"\s+", " ", html)
    return re.sub(r">\s*", ">", re.sub(r"\s*<", "<", html)).strip()


def _both(build) -> tuple[str, str]:
    # Fresh forms for each: crispy adds its classes to the widgets it renders.
    return _norm(CRISPY.render(Context({"form": build()}))), _norm(
        LEAN.render(Context({"form": build()}))
    )


def _bound(form):
    form.is_valid()
    return form


@pytest.mark.django_db
@pytest.mark.parametrize("transition", TRANSITIONS, ids=lambda t: t.name)
def test_every_transition_form_renders_as_crispy_does(transition, project, reporter, developer):
    unowned = make_issue(project, reporter, title="New and unowned", severity=4)
    owned = make_issue(project, reporter, title="Owned", owner=developer)
    bad = {
        f"{transition.name}-expected_status": "new",
        f"{transition.name}-owner": "99999",
        f"{transition.name}-resolution": "not-a-resolution",
        f"{transition.name}-duplicate_of": "X" * 30,
    }
    for issue in (unowned, owned):
        crispy, lean = _both(lambda i=issue: TransitionForm(transition=transition, issue=i))
        assert lean == crispy
        crispy, lean = _both(
            lambda i=issue: _bound(TransitionForm(bad, transition=transition, issue=i))
        )
        assert lean == crispy
    if any(f.name == "owner" for f in transition.fields):
        assert f'<option value="{developer.pk}">' in lean


def test_the_hold_form_renders_as_crispy_does_with_its_errors():
    crispy, lean = _both(HoldForm)
    assert lean == crispy
    crispy, lean = _both(lambda: _bound(HoldForm({"reason": "zzz", "note": "n" * 600})))
    assert lean == crispy
    assert 'class="select form-select is-invalid"' in lean
    assert "Select a valid choice" in lean


@pytest.mark.django_db
@pytest.mark.parametrize("transition", TRANSITIONS, ids=lambda t: t.name)
def test_text_boxes_and_hidden_inputs_are_django_s_own_markup_byte_for_byte(
    transition, project, reporter
):
    from accounts.templatetags.lean_forms import _widget

    issue = make_issue(project, reporter, title="Typed <b>&'\"", severity=4)
    typed = {
        f"{transition.name}-expected_status": 'new"><script>',
        f"{transition.name}-reason": "line one\n<b>two</b> & 'three'",
        f"{transition.name}-duplicate_of": "WEB-1\"'",
    }
    for form in (
        TransitionForm(transition=transition, issue=issue),
        _bound(TransitionForm(typed, transition=transition, issue=issue)),
        HoldForm(),
        _bound(HoldForm({"reason": "zzz", "note": "<i>n</i>" * 100})),
    ):
        for bound in form:
            if type(bound.field.widget).__name__ in ("TextInput", "Textarea", "HiddenInput"):
                attrs = {"class": "textinput form-control is-invalid", "aria-invalid": "true"}
                assert _widget(bound, attrs) == str(bound.as_widget(attrs=attrs))
                assert _widget(bound, {}) == str(bound.as_widget())
