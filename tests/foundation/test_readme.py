import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]


def test_readme_transition_table_is_generated_from_the_one_table():
    env = {**os.environ, "DEBUG": "true"}
    printed = subprocess.run(
        [sys.executable, "manage.py", "workflow_table"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    text = (ROOT / "README.md").read_text()
    in_readme = text.split("<!-- workflow-table:start -->")[1].split("<!-- workflow-table:end -->")[
        0
    ]
    assert in_readme.strip() == printed, "README is stale: paste `manage.py workflow_table`"
