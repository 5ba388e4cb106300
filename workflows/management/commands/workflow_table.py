"""Print the transition table (the one constant in workflows/transitions.py) as Markdown."""

from django.core.management.base import BaseCommand

from workflows.transitions import markdown_table, mermaid_diagram


class Command(BaseCommand):
    help = "Print the lifecycle transition table as Markdown (for the README)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--mermaid", action="store_true", help="Print a Mermaid state diagram instead."
        )

    def handle(self, *args, mermaid: bool = False, **options):
        self.stdout.write(mermaid_diagram() if mermaid else markdown_table())
