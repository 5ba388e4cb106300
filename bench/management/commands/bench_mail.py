"""`manage.py bench_mail`: mail intake through the real transports, on PostgreSQL.

1. SMTP: starts `manage.py receive_mail --port 0` as its own process(es) and sends
   `--messages` messages over `--connections` parallel SMTP sessions, a mix of new issues
   and replies to notifications (`--replies` share). Two figures per message, both from
   just before MAIL FROM: until its 250 (the receiver answers only once the row is
   committed: the accept rate), and until its issue or comment is committed (a watcher
   polls the database every 50 ms: the filing rate, which is what users wait for). Also
   figures load affects less: the CPU-ms per message of the receiver (receiving and
   filing) and of its PostgreSQL backends, and the database commits per message (the
   group commit's and the batches' effect). `--filers` filing loops per process.
2. IMAP: a throwaway Dovecot gets a `--backlog` of messages (plus `--repeats` of them a
   second time) by IMAP APPEND; two `manage.py poll_mail` processes drain it at once, one
   is killed (SIGKILL) when half the backlog is filed and started again. The check: exactly
   one issue per distinct Message-ID, none left unseen.

`/proc/loadavg` is printed with the figures (the machine is shared). Prints the figures
and writes var/bench/mail.json.
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

from accounts.models import User
from bench.registry import percentile
from issues.mailthread import reply_address
from issues.models import Issue
from mailin import dovecot, services
from mailin.models import MailAddress, MailMessage, MailStatus
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


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def _cpu_seconds(group: int) -> float:
    """CPU time (user + system) of every live process in this process group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backends() -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend on this database but this one (the
    server runs on this machine, as the benchmark assumes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        return {pid: _proc_cpu(pid) for (pid,) in cursor.fetchall()}


def _backends_cpu_since(before: dict[int, float], exclude: set[int]) -> float:
    """CPU the backends spent since `before`: those there both times by the difference,
    new ones in full (a backend that came and went in between is missed)."""
    return sum(
        max(0.0, cpu - before.get(pid, 0.0))
        for pid, cpu in _backends().items()
        if pid not in exclude
    )


def _commits() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        return int(cursor.fetchone()[0])


def _env() -> dict:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}",
        "MAILIN_SENDER_RATE_PER_HOUR": str(10**9),
    }


def _ms(values: list[float], share: float) -> float:
    return round(percentile(values, share) * 1000, 1) if values else 0.0


class Command(BaseCommand):
    help = "Benchmark mail in: SMTP accept and filing rates, IMAP backlog drained exactly once."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=2000)
        parser.add_argument(
            "--connections", type=int, default=20, help="SMTP sessions at once (Postfix: 20)"
        )
        parser.add_argument("--processes", type=int, default=2, help="receive_mail processes")
        parser.add_argument(
            "--filers", type=int, default=2, help="filing loops per receive_mail process"
        )
        parser.add_argument("--replies", type=float, default=0.3)
        parser.add_argument(
            "--rate",
            type=float,
            default=0.0,
            help="send at most this many messages/s (0: as fast as the receiver answers)",
        )
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
            message_id = f"<{run}.{n}@bench>"
            messages.append(
                (message_id, sender.email, to, _message(sender.email, to, subject, message_id))
            )
        proc = subprocess.Popen(  # noqa: S603  # nosec B603
            [sys.executable, "manage.py", "receive_mail", "--port", "0", "--workers", "4", "--processes", str(options["processes"]), "--filers", str(options["filers"])],
            cwd=settings.BASE_DIR, env=_env(), stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        sent: dict[str, float] = {}
        accepted: dict[str, float] = {}
        committed: dict[str, float] = {}
        errors: list[str] = []
        lock = threading.Lock()
        done = threading.Event()
        watcher_queries = 0
        watcher_backend: set[int] = set()

        def watch():
            """When each message's issue/comment became visible (committed), 50 ms steps."""
            nonlocal watcher_queries
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                watcher_backend.add(cursor.fetchone()[0])
            watcher_queries += 1
            pending = MailMessage.objects.filter(message_id__startswith=f"<{run}.").exclude(
                status=MailStatus.RECEIVED
            )
            try:
                while not done.is_set() and len(committed) < total:
                    ids = pending.values_list("message_id", flat=True)
                    watcher_queries += 1
                    now = time.perf_counter()
                    for message_id in ids:
                        committed.setdefault(message_id, now)
                    time.sleep(0.05)
            finally:
                connection.close()

        rate = options["rate"]

        def client(chunk):
            with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
                smtp.ehlo()
                for n, message_id, sender, to, raw in chunk:
                    if rate:  # open loop: message n is due n / rate seconds in
                        time.sleep(max(0.0, begun + n / rate - time.perf_counter()))
                    started = time.perf_counter()
                    try:
                        smtp.sendmail(sender, [to], raw)
                    except smtplib.SMTPException as exc:
                        errors.append(str(exc))
                        continue
                    with lock:
                        sent[message_id] = started
                        accepted[message_id] = time.perf_counter()

        try:
            line = proc.stdout.readline() if proc.stdout else ""
            if "Receiving mail" not in line:
                raise CommandError(f"receive_mail did not start: {line}")
            port = int(line.rsplit(":", 1)[1])
            time.sleep(1)  # the forked processes' imports
            load_before = _loadavg()
            cpu_before, commits_before = _cpu_seconds(proc.pid), _commits()
            backends_before = _backends()
            watcher = threading.Thread(target=watch)
            numbered = [(n, *m) for n, m in enumerate(messages)]
            chunks = [numbered[i::connections] for i in range(connections)]
            threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
            started = begun = time.perf_counter()
            watcher.start()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            accept_seconds = time.perf_counter() - started
            watcher.join(timeout=max(120.0, total / 5))
            done.set()
            watcher.join()
            filed_seconds = max(committed.values(), default=started) - started
            cpu = _cpu_seconds(proc.pid) - cpu_before
            database_cpu = _backends_cpu_since(backends_before, watcher_backend)
            load_after = _loadavg()
            time.sleep(1.5)  # the statistics collector flushes about once a second
            # Not counted: the watcher's, and this connection's own (two for the commit
            # counts, two for the backends' CPU).
            commits = _commits() - commits_before - watcher_queries - 4
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
        outcome = dict(
            MailMessage.objects.filter(project=project, message_id__startswith=f"<{run}.")
            .values_list("status")
            .annotate(n=Count("id"))
        )
        to_250 = [accepted[m] - sent[m] for m in accepted]
        to_filed = [committed[m] - sent[m] for m in committed if m in sent]
        figures = {
            "messages": total,
            "connections": connections,
            "receiver_processes": options["processes"],
            "replies_share": options["replies"],
            "offered_rate": rate or "as fast as answered",
            "loadavg_before": load_before,
            "loadavg_after": load_after,
            "accepted": len(accepted),
            "accept_seconds": round(accept_seconds, 2),
            "accepted_per_second": round(len(accepted) / accept_seconds, 1),
            "accept_p50_ms": _ms(to_250, 0.5),
            "accept_p95_ms": _ms(to_250, 0.95),
            "filed": len(committed),
            "filed_seconds": round(filed_seconds, 2),
            "filed_per_second": round(len(committed) / filed_seconds, 1) if filed_seconds else 0,
            "filed_p50_ms": _ms(to_filed, 0.5),
            "filed_p95_ms": _ms(to_filed, 0.95),
            "receiver_filers_per_process": options["filers"],
            # Receiving and filing both run in the receiver; PostgreSQL's share apart.
            "receiver_cpu_ms_per_message": round(cpu * 1000 / max(1, len(accepted)), 1),
            "database_cpu_ms_per_message": round(database_cpu * 1000 / max(1, len(accepted)), 1),
            "cpu_ms_per_filed_message": round(
                (cpu + database_cpu) * 1000 / max(1, len(committed)), 1
            ),
            "database_commits_per_message": round(commits / max(1, len(accepted)), 2),
            "outcome": outcome,
            "errors": len(errors),
        }
        self.stdout.write(
            f"SMTP: accepted {figures['accepted_per_second']} messages/s (250 after the commit; "
            f"p50 {figures['accept_p50_ms']} ms, p95 {figures['accept_p95_ms']} ms); filed "
            f"{figures['filed_per_second']} messages/s (to the committed issue/comment: p50 "
            f"{figures['filed_p50_ms']} ms, p95 {figures['filed_p95_ms']} ms); "
            f"{figures['receiver_cpu_ms_per_message']} receiver CPU-ms + "
            f"{figures['database_cpu_ms_per_message']} PostgreSQL CPU-ms and "
            f"{figures['database_commits_per_message']} commits per message; {outcome}; "
            f"loadavg {load_before} -> {load_after}"
        )
        return figures

    def _imap(self, project, senders, options) -> dict:
        run = uuid.uuid4().hex[:8]
        backlog, repeats = options["backlog"], options["repeats"]
        titles = Issue.objects.filter(project=project, title__startswith=f"Backlog {run} ")
        server = dovecot.Dovecot().start()
        pollers: list[subprocess.Popen] = []

        def poller() -> subprocess.Popen:
            proc = subprocess.Popen(  # noqa: S603  # nosec B603
                [sys.executable, "manage.py", "poll_mail", "--url", server.url, "--batch", "200"],
                cwd=settings.BASE_DIR, env=_env(), stdout=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            pollers.append(proc)
            return proc

        try:
            raws = [
                _message(senders[n % len(senders)].email, ADDRESS, f"Backlog {run} {n}", f"<{run}.{n}@imap-bench>")
                for n in range(backlog)
            ]  # fmt: skip
            loaded = time.perf_counter()
            server.append(*raws, *raws[:repeats])
            load_seconds = time.perf_counter() - loaded
            load_before = _loadavg()
            started = time.perf_counter()
            first, second = poller(), poller()
            while titles.count() < backlog // 2 and first.poll() is None:
                time.sleep(0.2)
            killed_at = titles.count()
            os.killpg(first.pid, signal.SIGKILL)  # mid-batch, no clean-up
            first.wait()
            restarted = poller()
            codes = [second.wait(), restarted.wait()]
            elapsed = time.perf_counter() - started
            load_after = _loadavg()
            filed = titles.count()
            distinct_titles = titles.values("title").distinct().count()
            rows = MailMessage.objects.filter(
                message_id__endswith="@imap-bench>", message_id__startswith=f"<{run}."
            )
            figures = {
                "backlog": backlog,
                "repeats_in_mailbox": repeats,
                "pollers": "2 at once; one killed (SIGKILL) halfway and restarted",
                "killed_when_filed": killed_at,
                "loadavg_before": load_before,
                "loadavg_after": load_after,
                "append_seconds": round(load_seconds, 1),
                "drain_seconds": round(elapsed, 1),
                "messages_per_second": round((backlog + repeats) / elapsed, 1),
                "issues_filed": filed,
                "duplicates": filed - distinct_titles + max(0, filed - backlog),
                "rows": rows.count(),
                "not_filed": rows.exclude(status=MailStatus.FILED).count(),
                "left_unseen": server.unseen(),
                "poller_exit_codes": codes,
            }  # fmt: skip
        finally:
            for proc in pollers:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            server.stop()
        self.stdout.write(
            f"IMAP: {backlog} (+{repeats} repeats) drained in {figures['drain_seconds']} s by 2 "
            f"pollers (one killed at {killed_at} filed and restarted): {filed} issues, "
            f"{figures['duplicates']} duplicates, {figures['left_unseen']} left unseen; "
            f"loadavg {load_before} -> {load_after}"
        )
        return figures
