"""Known pathological Markdown, each at the size limit (issues.limits.TEXT_MAX_CHARS): deep
nesting of brackets, emphasis, block quotes and lists, long runs of delimiters, autolink
look-alikes, huge tables. The tests render every one under a generous bound; `manage.py
bench_markdown` (part of `make bench`) prints their times against RENDER_BUDGET_SECONDS."""

from .limits import TEXT_MAX_CHARS

# Rendering one description or comment at the limit must stay under this on one core.
RENDER_BUDGET_SECONDS = 1.0


def _fill(unit: str, tail: str = "") -> str:
    return (unit * ((TEXT_MAX_CHARS - len(tail)) // len(unit)) + tail)[:TEXT_MAX_CHARS]


PATHOLOGICAL_MARKDOWN: dict[str, str] = {
    "nested brackets": _fill("[", "")[: TEXT_MAX_CHARS // 2] + "]" * (TEXT_MAX_CHARS // 2),
    "unclosed link openers": _fill("[a]("),
    "nested images": _fill("!["),
    "link in link": _fill("[[a](b)"),
    "emphasis openers": _fill("*a "),
    "strong openers": _fill("**a"),
    "mixed delimiters": _fill("*_~`"),
    "underscore runs": _fill("_a"),
    "strikethrough openers": _fill("~~a"),
    "backtick runs": _fill("`a"),
    "one long backtick run": _fill("`"),
    "angle brackets": _fill("<"),
    "unclosed html tags": _fill("<a "),
    "html comments": _fill("<!--"),
    "entities": _fill("&#"),
    "autolink look-alikes": _fill("http://a."),
    "scheme runs": _fill("http://"),
    "www runs": _fill("www."),
    "long autolink": "<http://" + "a" * (TEXT_MAX_CHARS - 10) + ">",
    "nested block quotes": _fill(">"),
    "quotes and lists": _fill("> - "),
    "nested lists": "".join("  " * i + "- x\n" for i in range(200)),
    "ordered list markers": _fill("1. "),
    "task list markers": _fill("- [ ] "),
    "wide table": "|a" * 1000 + "\n" + "|-" * 1000 + "\n" + ("|x" * 1000 + "\n") * 20,
    "long table": "a|b\n-|-\n" + _fill("x|y\n")[: TEXT_MAX_CHARS - 10],
    "reference definitions": _fill("[a]: <"),
    "setext underlines": _fill("a\n=\n"),
    "fence openers": _fill("```\n"),
    "mentions": _fill("@a "),
    "deep parentheses in a link": "[a](" + "(" * (TEXT_MAX_CHARS - 5),
}
