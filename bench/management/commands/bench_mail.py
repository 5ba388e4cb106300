"""`manage.py bench_mail`: mail intake through the real transports, on PostgreSQL.

1. SMTP: starts `manage.py receive_mail --port 0` as its own process and sends `--messages`
   messages over `--connections` parallel SMTP sessions, a mix of new issues and replies to
   notifications (`--replies` share). A message's time is from MAIL FROM until the 250 that
   follows its commit; messages/s is over the whole run, checked against the rows written.
2. IMAP: a throwaway Dovecot gets a `--backlog` of messages (plus `--repeats` of them a second
   time), then two pollers drain it at once; the figure is the drain time, and the check is
   one issue per distinct Message-ID.

Prints the figures and writes var/bench/mail.json.
"""

import json
import os
import signal
import smtplib
import subprocess  # nosec B404 — starts this checkout's own manage.py
import sys
import threading
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count
from django.test.utils import override_settings

from accounts.models import User
from bench.registry import percentile
from issues.mailthread import reply_address
from issues.models import Issue
from mailin import dovecot, services
from mailin.models import MailAddress, MailMessage
from projects.models import Membership, Project, Role
from workflows.issue_use_cases import create_issue

KEY = "MAILB"
ADDRESS = "bench-support@bench.example"
SENDERS = 20


def _message(sender: str, to: str, subject: str, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = sender, to, subject, message_id
    msg.set_content(
        "Steps to reproduce:\n\n1. Open the checkout\n2. Press Pay\n\nExpected a receipt.\n"
    )
    return msg.as_bytes()


class Command(BaseCommand):
    help = "Benchmark mail in: SMTP messages/s to committed issues/comments, IMAP backlog drain."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=2000)
        parser.add_argument("--connections", type=int, default=8)
        parser.add_argument("--processes", type=int, default=2, help="receive_mail processes")
        parser.add_argument("--replies", type=float, default=0.3)
        parser.add_argument("--backlog", type=int, default=10_000)
        parser.add_argument("--repeats", type=int, default=200)
        parser.add_argument("--skip-imap", action="store_true")
        parser.add_argument("--skip-smtp", action="store_true")
        parser.add_argument("--output", default=str(Path(settings.VAR_DIR) / "bench" / "mail.json"))

    def handle(self, *args, **options):
        if not settings.IS_POSTGRES:
            raise CommandError("bench_mail measures PostgreSQL: set DATABASE_URL=postgres://…")
        project, senders, issues = self._world()
        result = {}
        if not options["skip_smtp"]:
            result["smtp"] = self._smtp(project, senders, issues, options)
        if not options["skip_imap"]:
            if not dovecot.available():
                raise CommandError("The IMAP benchmark needs /usr/sbin/dovecot (dovecot-imapd).")
            result["imap"] = self._imap(project, senders, options)
        output = Path(options["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2) + "\n")
        self.stdout.write(json.dumps(result, indent=2))

    def _world(self):
        manager, _ = User.objects.get_or_create(
            username="mailbench-manager", defaults={"email": "mailbench-manager@bench.example"}
        )
        project, _ = Project.objects.get_or_create(key=KEY, defaults={"name": "Mail bench"})
        Membership.objects.get_or_create(
            project=project, user=manager, defaults={"role": Role.MANAGER}
        )
        if not MailAddress.objects.filter(address=ADDRESS).exists():
            services.add_mail_address(project, actor=manager, address=ADDRESS)
        senders = []
        for n in range(SENDERS):
            user, _ = User.objects.get_or_create(
                username=f"mailbench-{n}", defaults={"email": f"sender{n}@bench.example"}
            )
            Membership.objects.get_or_create(
                project=project, user=user, defaults={"role": Role.DEVELOPER}
            )
            senders.append(user)
        issues = list(Issue.objects.filter(project=project).order_by("pk")[:20])
        while len(issues) < 20:
            issues.append(create_issue(project, reporter=manager, title="Replies land here"))
        return project, senders, issues

    def _smtp(self, project, senders, issues, options) -> dict:
        run = uuid.uuid4().hex[:8]
        total, connections = options["messages"], options["connections"]
        messages = []
        for n in range(total):
            sender = senders[n % len(senders)]
            if (n % 10) < options["replies"] * 10:
                issue = issues[n % len(issues)]
                to = reply_address(user_id=sender.pk, issue_id=issue.pk)
                subject = f"Re: {issue.title}"
            else:
                to, subject = ADDRESS, f"Bench {run} message {n}"
            messages.append(
                (sender.email, to, _message(sender.email, to, subject, f"<{run}.{n}@bench>"))
            )
        s = connection.settings_dict
        auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}",
            "MAILIN_SENDER_RATE_PER_HOUR": str(10**9),
        }
        proc = subprocess.Popen(  # noqa: S603  # nosec B603
            [sys.executable, "manage.py", "receive_mail", "--port", "0", "--workers", "4", "--processes", str(options["processes"])],
            cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            if "Receiving mail" not in line:
                raise CommandError(f"receive_mail did not start: {line}")
            port = int(line.rsplit(":", 1)[1])
            before = MailMessage.objects.filter(project=project).count()
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()

            def client(chunk):
                with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                    for sender, to, raw in chunk:
                        started = time.perf_counter()
                        try:
                            smtp.sendmail(sender, [to], raw)
                        except smtplib.SMTPException as exc:
                            errors.append(str(exc))
                            continue
                        with lock:
                            latencies.append(time.perf_counter() - started)

            chunks = [messages[i::connections] for i in range(connections)]
            threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        rows = MailMessage.objects.filter(project=project).count() - before
        outcome = dict(
            MailMessage.objects.filter(project=project, message_id__startswith=f"<{run}.")
            .values_list("status")
            .annotate(n=Count("id"))
        )
        figures = {
            "messages": total,
            "connections": connections,
            "receiver_processes": options["processes"],
            "replies_share": options["replies"],
            "seconds": round(elapsed, 2),
            "messages_per_second": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
            "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
            "rows_written": rows,
            "outcome": outcome,
            "errors": len(errors),
        }
        self.stdout.write(
            f"SMTP: {figures['messages_per_second']} messages/s, p50 {figures['p50_ms']} ms, "
            f"p95 {figures['p95_ms']} ms ({outcome})"
        )
        return figures

    def _imap(self, project, senders, options) -> dict:
        from mailin.transports import poll_imap_mailbox

        run = uuid.uuid4().hex[:8]
        backlog, repeats = options["backlog"], options["repeats"]
        server = dovecot.Dovecot().start()
        try:
            raws = [
                _message(
                    senders[n % len(senders)].email,
                    ADDRESS,
                    f"Backlog {run} {n}",
                    f"<{run}.{n}@imap-bench>",
                )
                for n in range(backlog)
            ]
            loaded = time.perf_counter()
            client = server.client()
            for raw in raws + raws[:repeats]:
                client.append("INBOX", None, None, raw)  # type: ignore[arg-type]
            client.logout()
            load_seconds = time.perf_counter() - loaded
            errors: list[Exception] = []

            def poll():
                try:
                    poll_imap_mailbox(server.url, batch=500)
                except Exception as exc:
                    errors.append(exc)
                finally:
                    connection.close()

            with override_settings(MAILIN_SENDER_RATE_PER_HOUR=10**9):
                started = time.perf_counter()
                threads = [threading.Thread(target=poll) for _ in range(2)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                elapsed = time.perf_counter() - started
            filed = Issue.objects.filter(
                project=project, title__startswith=f"Backlog {run} "
            ).count()
            distinct_titles = (
                Issue.objects.filter(project=project, title__startswith=f"Backlog {run} ")
                .values("title").distinct().count()
            )  # fmt: skip
            figures = {
                "backlog": backlog,
                "repeats_in_mailbox": repeats,
                "pollers": 2,
                "load_seconds": round(load_seconds, 1),
                "drain_seconds": round(elapsed, 1),
                "messages_per_second": round((backlog + repeats) / elapsed, 1),
                "issues_filed": filed,
                "duplicates": filed - distinct_titles + max(0, filed - backlog),
                "left_unseen": server.unseen(),
                "errors": [str(e) for e in errors],
            }
        finally:
            server.stop()
        self.stdout.write(
            f"IMAP: {backlog} (+{repeats} repeats) drained in {figures['drain_seconds']} s by 2 "
            f"pollers, {figures['issues_filed']} issues, {figures['duplicates']} duplicates"
        )
        return figures
