"""Issue 17, "chart legend colours": every legend swatch has the colour of its bars and lines
(one palette definition, colour-blind safe), and the charts have a text equivalent: the
page as tables, reachable without JavaScript."""

import re
from pathlib import Path

from django.conf import settings

from reports.charts import PALETTE, SEMANTIC, Series, bar_chart, series_colour

# Okabe & Ito's palette for colour-vision deficiencies, and a neutral grey.
OKABE_ITO = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"}


def _svgs(html: str) -> list[str]:
    return re.findall(r'<svg class="chart".*?</svg>', html, re.S)


def _fills(svg: str, series: int) -> tuple[set[str], set[str]]:
    """(swatch colours, bar/point/line colours) of series `series` in one chart."""
    shapes = re.findall(
        r'<(rect|circle|polyline) class="([^"]*)"[^>]*?(?:fill|stroke)="(#[0-9A-Fa-f]{6})"', svg
    )
    swatch, drawn = set(), set()
    for _tag, classes, colour in shapes:
        names = classes.split()
        if f"chart-s{series}" not in names and f"chart-stroke-s{series}" not in names:
            continue
        (swatch if "chart-swatch" in names else drawn).add(colour.upper())
    return swatch, drawn


def test_every_legend_swatch_matches_its_series_on_the_dashboard(
    client, manager, history, open_issues
):
    client.force_login(manager)
    html = client.get("/dashboard/?range=custom&start=2026-11-01&end=2026-11-18").text
    charts = _svgs(html)
    with_legend = [svg for svg in charts if "chart-swatch" in svg]
    assert with_legend, "some chart has a legend"
    for svg in with_legend:
        for n in range(len(PALETTE)):
            swatch, drawn = _fills(svg, n)
            if swatch and drawn:
                assert swatch == drawn, (n, swatch, drawn)


def test_a_semantic_series_keeps_its_colour_in_the_legend():
    chart = str(
        bar_chart(
            chart_id="t",
            title="Breaches",
            categories=["w1", "w2"],
            series=[Series("Met", [3, 4]), Series("Missed", [1, 2], css="chart-bad")],
        )
    )
    swatch, drawn = _fills(chart, 1)
    assert swatch == drawn == {SEMANTIC["chart-bad"].upper()}


def test_the_palette_is_colour_blind_safe_and_the_css_does_not_override_it():
    assert {c.upper() for c in PALETTE} <= {c.upper() for c in OKABE_ITO}
    assert len({series_colour(i) for i in range(len(PALETTE))}) == len(PALETTE)
    css = (Path(settings.BASE_DIR) / "static/css/reports.css").read_text()
    assert not re.search(
        r"\.(chart-s\d|chart-stroke-s\d|chart-bad|chart-warn|chart-hot|sev-fill-\w+)[^{]*\{[^}]*(fill|stroke)",
        css,
    )


def test_the_page_as_tables_replaces_every_chart_with_its_table(
    client, manager, history, open_issues
):
    client.force_login(manager)
    url = "/dashboard/?range=custom&start=2026-11-01&end=2026-11-18"
    charts = client.get(url).text
    assert "Show as tables" in charts
    toggle = re.search(r'id="view-toggle" href="([^"]*)"', charts).group(1).replace("&amp;", "&")
    assert "view=tables" in toggle and "start=2026-11-01" in toggle
    tables = client.get("/dashboard/" + toggle).text
    assert _svgs(tables) == []
    assert "<details" not in tables.split('id="lessons"')[0]
    assert tables.count("<table") >= charts.count("<table")
    assert "Show charts" in tables
    assert 'name="view" value="tables"' in tables  # Apply keeps the tables view


def test_a_chart_of_links_is_a_named_group_and_a_plain_chart_an_image():
    """A role="img" hides its children, so links in it could not be reached (axe's
    nested-interactive): a chart whose bars link to issues is a group of named links."""
    linked = bar_chart(
        chart_id="sev",
        title="Open by severity",
        categories=["Major", "Minor"],
        series=[Series("Open", [3, 1], ["/issues/?s=3", ""])],
    )
    assert 'role="group"' in linked and 'role="img"' not in linked
    assert '<a href="/issues/?s=3" aria-label="Major · Open: 3">' in linked
    plain = bar_chart(
        chart_id="sev", title="Open by severity", categories=["Major"], series=[Series("Open", [3])]
    )
    assert 'role="img"' in plain and "<a " not in plain
