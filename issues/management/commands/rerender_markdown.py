from django.core.management.base import BaseCommand

from issues.markdown import RENDERER_VERSION
from issues.services import rerender_markdown


class Command(BaseCommand):
    help = (
        "Store the current Markdown renderer's HTML for descriptions and comments rendered by "
        "an older version (run after a renderer version bump; pages re-render them until then)."
    )

    def handle(self, *args, **options):
        issues, comments = rerender_markdown()
        self.stdout.write(
            f"Re-rendered {issues} description(s) and {comments} comment(s) "
            f"with renderer version {RENDERER_VERSION}."
        )
