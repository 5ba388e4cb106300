"""The world a scenario runs in: its own servers, a migrated database with the demo data,
and the processes of the product."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from reliability.servers import Postgres, Procs, Redis, Smtp


class World:
    def __init__(self, args):
        self.quick = args.quick
        self.think: tuple[float, float] | None = args.think
        self.dir = Path(tempfile.mkdtemp(prefix="resolve-reliability-"))
        os.chmod(self.dir, 0o755)  # nosec B103 - the postgres user reads its data dir in it
        self.pg = Postgres(self.dir)
        self.redis = Redis(self.dir)
        self.smtp = Smtp()
        self.queue = f"reliability-{uuid.uuid4().hex[:8]}"
        var = self.dir / "var"
        var.mkdir()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tracker.settings",
            "DEBUG": "false",
            "SECRET_KEY": "reliability-" + uuid.uuid4().hex,
            "HTTPS": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.pg.port}/resolve_rel_load",
            "CONN_MAX_AGE": "60",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/0",
            "CELERY_QUEUE": self.queue,
            "CELERY_VISIBILITY_TIMEOUT": "10",
            "NOTIFY_EMAIL_CLAIM_SECONDS": "5",
            "EMAIL_URL": f"smtp://127.0.0.1:{self.smtp.port}",
            "EMAIL_TIMEOUT": "5",
            "BASE_URL": "http://resolve.example",
            "RESOLVE_VAR_DIR": str(var),
            "AUTH_ATTEMPTS_RATE": "100000/m",
            "LOG_LEVEL": "INFO",
            # Webhooks go to this driver's receiver on loopback; short timings.
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
            "WEBHOOK_CONNECT_TIMEOUT": "2",
            "WEBHOOK_READ_TIMEOUT": "2",
            "WEBHOOK_BACKOFF_BASE": "1",
            "WEBHOOK_BACKOFF_MAX": "8",
            "WEBHOOK_TURN_SECONDS": "5",
            "WEBHOOK_CLAIM_SECONDS": "10",
        }
        os.environ.update(self.env)
        self.procs = Procs(self.dir, self.env)

    def boot(self) -> None:
        self.pg.start()
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.pg.port), "-U", "postgres", "-q", "-c",
             "CREATE DATABASE resolve_rel_load"], check=True,
        )  # fmt: skip
        self.redis.start()
        self.smtp.start()
        # Django is set up only once World.boot() has configured it: import the app here.
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("seed_demo", "--force", verbosity=0)
        call_command("collectstatic", "--noinput", verbosity=0)
        import logging

        logging.getLogger("mail.log").setLevel(logging.WARNING)
        from django.contrib.auth import get_user_model

        from notifications.models import DigestEmail, Notification
        from notifications.services import process_outbox
        from tracker.celery import app

        # The demo data's own notifications are not part of any scenario: fan them out now,
        # drop their queued tasks and emails.
        process_outbox()
        app.control.purge()
        for model in (Notification, DigestEmail):
            model.objects.exclude(email_status="none").update(email_status="none")
        get_user_model().objects.get_or_create(
            username="bounce", defaults={"email": "bounce@example.invalid"}
        )

    def close(self) -> None:
        self.procs.stop_all()
        self.smtp.stop()
        self.redis.kill()
        try:
            self.pg.stop()
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    # database helpers (the driver is a Django process on the same database)
    @staticmethod
    def pending_notes(users: list[str], n: int, tag: str) -> list[int]:
        # Django is set up only once World.boot() has configured it: import the app here.
        from django.contrib.auth import get_user_model

        from notifications.models import EmailStatus, Kind, Notification

        people = list(get_user_model().objects.filter(username__in=users))
        notes = Notification.objects.bulk_create(
            Notification(
                recipient=people[i % len(people)], kind=Kind.ASSIGNED,
                summary=f"{tag} {i}", email_status=EmailStatus.PENDING,
            )
            for i in range(n)
        )  # fmt: skip
        return [n.pk for n in notes]

    @staticmethod
    def statuses(ids: list[int]) -> dict[str, int]:
        # Django is set up only once World.boot() has configured it: import the app here.
        from django.db.models import Count

        from notifications.models import Notification

        rows = (
            Notification.objects.filter(pk__in=ids).values("email_status").annotate(n=Count("id"))
        )
        return {r["email_status"]: r["n"] for r in rows}

    def all_sent(self, ids: list[int]) -> bool:
        return self.statuses(ids).get("sent", 0) == len(ids)

    def delivered(self, ids: list[int]) -> tuple[int, int]:
        """(distinct messages received for these notifications, duplicates)."""
        wanted = {f"<resolve.notification.{pk}@resolve.example>" for pk in ids}
        got = [m for m in self.smtp.box.ids() if m in wanted]
        return len(set(got)), len(got) - len(set(got))


def retry_intervals(log: Path) -> list[int]:
    """The backoff of the task that retried most (each retry is logged once per task id)."""
    per_task: dict[bytes, list[int]] = {}
    for task, seconds in re.findall(
        rb"\[([0-9a-f-]{36})\] retry: Retry in (\d+)s", log.read_bytes()
    ):
        per_task.setdefault(task, []).append(int(seconds))
    return max(per_task.values(), key=len, default=[])
