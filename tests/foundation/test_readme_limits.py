from pathlib import Path

from issues.limits import limits_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_lists_the_field_limits_the_code_enforces():
    text = README.read_text()
    table = text.split("<!-- field-limits:start -->\n", 1)[1].split("\n<!-- field-limits:end -->")[
        0
    ]
    assert table == limits_table()
