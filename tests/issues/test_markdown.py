"""Descriptions and comments: GitHub-flavoured Markdown, sanitised, rendered once when saved
(stored with the renderer's version), and bounded in time whatever the input."""

import re
import sys

import pytest
from django.core.management import call_command

from issues.markdown import RENDERER_VERSION, render_markdown
from issues.markdown_corpus import PATHOLOGICAL_MARKDOWN
from issues.models import Comment, Issue
from issues.services import add_comment
from tests.factories import make_issue
from workflows.issue_use_cases import update_issue

pytestmark = pytest.mark.django_db


def _page(client, user, issue) -> str:
    client.force_login(user)
    response = client.get(issue.get_absolute_url())
    assert response.status_code == 200
    return response.text


def test_a_list_right_after_a_line_of_text_is_a_list(client, project, reporter):
    issue = make_issue(project, reporter, description="Steps:\n- open the cart\n- pay")
    html = _page(client, reporter, issue)
    assert "<p>Steps:</p>\n<ul>\n<li>open the cart</li>\n<li>pay</li>\n</ul>" in html


def test_tables_are_styled_with_bootstrap(client, project, reporter):
    issue = make_issue(
        project, reporter, description="| Browser | Works |\n|:--|--:|\n| Firefox | no |"
    )
    html = _page(client, reporter, issue)
    assert '<table class="table table-sm table-bordered w-auto">' in html
    assert '<th style="text-align:left">Browser</th>' in html
    assert '<td style="text-align:right">no</td>' in html


def test_fenced_code_task_lists_strikethrough_and_autolinks(client, project, reporter):
    issue = make_issue(project, reporter, title="GFM")
    add_comment(
        issue,
        author=reporter,
        body="```python\nprint('<b>')\n```\n\n- [x] reproduce\n- [ ] fix\n\n"
        "~~old~~ see https://example.com/a_(b). or www.example.org",
    )
    html = _page(client, reporter, issue)
    assert "<pre><code class=\"language-python\">print('&lt;b&gt;')\n</code></pre>" in html
    boxes = dict(
        (label, set(attrs.split()))
        for attrs, label in re.findall(r"<input ([^>]*)> (reproduce|fix)", html)
    )
    read_only = {'class="task-list-item-checkbox"', 'disabled="disabled"', 'type="checkbox"'}
    assert boxes == {"reproduce": read_only | {'checked="checked"'}, "fix": read_only}
    assert "<s>old</s>" in html
    assert (
        '<a href="https://example.com/a_(b)" rel="nofollow noopener">https://example.com/a_(b)</a>.'
        in html
    )
    assert '<a href="http://www.example.org" rel="nofollow noopener">www.example.org</a>' in html


@pytest.mark.parametrize(
    "source,forbidden",
    [
        ("<script>alert(1)</script>", "<script"),
        ("[x](javascript:alert(1))", 'href="javascript'),
        ('<a href="javascript:alert(1)">x</a>', 'href="javascript'),
        ('<img src=x onerror="alert(1)">', "onerror"),
        ('<input type="text" autofocus onfocus="alert(1)">', "onfocus"),
        ('<table class="x" onclick="alert(1)"><tr><td>1</td></tr></table>', "onclick"),
        ('<a href="https://e.com" class="btn stretched-link">x</a>', "stretched-link"),
        ('<td style="position:fixed;top:0">x</td>', "position"),
        ("- [ ] <input type=text value=1>", 'type="text"'),
    ],
)
def test_what_is_rendered_stays_sanitised(source, forbidden):
    assert forbidden not in render_markdown(source)


def test_rendered_once_when_saved_with_the_renderer_version(project, reporter):
    issue = make_issue(project, reporter, description="**Pay** fails")
    issue.refresh_from_db()
    assert issue.description_html == "<p><strong>Pay</strong> fails</p>\n"
    assert issue.description_html_version == RENDERER_VERSION
    comment = add_comment(issue, author=reporter, body="_soon_ @reporter")
    comment.refresh_from_db()
    assert "<em>soon</em>" in comment.body_html
    assert 'class="mention"' in comment.body_html
    assert comment.body_html_version == RENDERER_VERSION
    update_issue(issue, actor=reporter, changes={"description": "# New"})
    issue.refresh_from_db()
    assert issue.description_html == "<h1>New</h1>\n"


def test_the_page_shows_the_stored_rendering(client, project, reporter):
    issue = make_issue(project, reporter, description="plain")
    # Stored by this renderer version: the page uses it as it is (no rendering per view).
    Issue.objects.filter(pk=issue.pk).update(description_html="<p>stored copy</p>")
    assert "<p>stored copy</p>" in _page(client, reporter, issue)


def test_stored_html_of_another_renderer_version_is_never_trusted(client, project, reporter):
    issue = make_issue(project, reporter, description="**fine**")
    comment = add_comment(issue, author=reporter, body="also *fine*")
    Issue.objects.filter(pk=issue.pk).update(
        description_html="<script>alert(1)</script>", description_html_version=0
    )
    Comment.objects.filter(pk=comment.pk).update(
        body_html="<img src=x onerror=alert(2)>", body_html_version=RENDERER_VERSION - 1
    )
    html = _page(client, reporter, issue)
    assert "alert(1)" not in html and "onerror" not in html
    assert "<strong>fine</strong>" in html and "<em>fine</em>" in html
    call_command("rerender_markdown")
    issue.refresh_from_db()
    comment.refresh_from_db()
    assert issue.description_html_version == comment.body_html_version == RENDERER_VERSION
    assert comment.body_html == "<p>also <em>fine</em></p>\n"


def test_mentions_survive_a_rerender(project, reporter, developer):
    issue = make_issue(project, reporter, title="Ping")
    comment = add_comment(issue, author=reporter, body="@developer please look")
    Comment.objects.filter(pk=comment.pk).update(body_html="", body_html_version=0)
    call_command("rerender_markdown")
    comment.refresh_from_db()
    assert f'href="/issues/?owner={developer.pk}"' in comment.body_html


def _calls_to_render(text: str) -> int:
    """Python function calls made rendering `text`: a measure of work that does not depend on
    how busy the machine is (the CPU time against its budget is `make bench`'s
    bench_markdown)."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        render_markdown(text)
    finally:
        sys.setprofile(None)
    return calls


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL_MARKDOWN))
def test_pathological_markdown_costs_work_linear_in_its_length(name):
    """Doubling a pathological text at most doubles the work (a quadratic blow-up would
    quadruple it), and no input costs more than 200 calls a character."""
    text = PATHOLOGICAL_MARKDOWN[name]
    whole, half = _calls_to_render(text), _calls_to_render(text[: len(text) // 2])
    assert whole <= 2.5 * half + 1_000, (whole, half)
    assert whole <= 200 * len(text), whole


def test_text_beyond_the_renderer_limit_is_shown_as_text():
    html = render_markdown("**x** " * 20_000)
    assert "<strong>" not in html
    assert "**x**" in html
