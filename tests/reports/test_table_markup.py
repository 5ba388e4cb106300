"""The dashboard's tables are written in Python (`dashboard_table`): the markup must be the
one the template wrote, cell for cell, on a dashboard with every kind of cell (links, badges,
dates, plain text, empty tables) and hostile text."""

from datetime import date

import pytest
from django.template import Context, Template
from django.utils import timezone

from issues.models import Issue
from reports import dashboard
from reports.selectors import Scope
from reports.templatetags.dashboard_tables import render_table

from .conftest import NOW

pytestmark = pytest.mark.django_db

# The template the tables were rendered with before (templates/reports/_table.html).
REFERENCE = Template(
    '{% load resolve %}<div class="table-responsive">\n'
    '<table class="table table-sm table-dense table-hover align-middle'
    ' reports-table" id="table-{{ table.slug }}">\n'
    '  <caption class="caption-top d-flex justify-content-between'
    ' align-items-center">\n'
    "    <span>{{ table.title }}</span>\n"
    '    <a class="btn btn-sm btn-link" href="{% url \'reports:csv\' table.slug %}?{{'
    ' query }}{% if search %}&amp;q={{ search|urlencode }}{% endif %}" download><i'
    ' class="bi bi-download" aria-hidden="true"></i> CSV<span'
    ' class="visually-hidden"> of {{ table.title }}</span></a>\n'
    "  </caption>\n"
    '  <thead><tr>{% for c in table.columns %}<th scope="col"{% if not forloop.first'
    ' %} class="text-end"{% endif %}>{{ c }}</th>{% endfor %}</tr></thead>\n'
    "  <tbody>\n"
    "  {% for row in table.rows %}\n"
    '    <tr>{% for cell in row %}{% if forloop.first %}<th scope="row">{% else'
    " %}<td class=\"{% if cell.css == 'when' %}text-nowrap{% elif cell.href or"
    ' cell.value is not None %}text-end{% endif %}">{% endif %}{% if cell.css =='
    ' "when" %}{{ cell.value|when }}{% elif cell.css %}<span class="badge {{'
    ' cell.css }}">{{ cell.text }}</span>{% elif cell.href %}<a href="{{ cell.href'
    ' }}">{{ cell.text }}</a>{% else %}{{ cell.text }}{% endif %}{% if forloop.first'
    " %}</th>{% else %}</td>{% endif %}{% endfor %}</tr>\n"
    "  {% empty %}\n"
    '    <tr><td colspan="{{ table.columns|length }}" class="text-secondary">Nothing'
    " in this selection.</td></tr>\n"
    "  {% endfor %}\n"
    "  </tbody>\n"
    "</table>\n"
    "</div>\n"
)


def _reference(table, query, search):
    return REFERENCE.render(Context({"table": table, "query": query, "search": search}))


@pytest.mark.parametrize("search", ["", "cache <b>&'\" headers/x"])
def test_tables_are_the_templates_markup(history, open_issues, manager, search):
    Issue.objects.filter(pk=open_issues["P"].pk).update(title="P <script>\"&'</script>")
    scope = Scope(
        user=manager,
        first_day=date(2026, 11, 1),
        last_day=date(2026, 11, 18),
        tz=timezone.get_current_timezone(),
        now=NOW,
    )
    sections = dashboard.build(scope, search=search)
    query = "project=1&range=custom&start=2026-11-01&end=2026-11-18"
    tables = [t for s in sections.values() for t in s.tables]
    assert len(tables) == len(dashboard.TABLE_SECTION)
    kinds = {c.css or ("link" if c.href else "text") for t in tables for r in t.rows for c in r}
    assert {"when", "link", "text", "sla-breached"} <= kinds
    tables.append(dashboard.Table("empty", "Nothing <here>", ["A", "B & C"]))
    with timezone.override("Europe/Berlin"):
        for table in tables:
            assert render_table(table, query=query, search=search) == _reference(
                table, query, search
            ), table.slug
