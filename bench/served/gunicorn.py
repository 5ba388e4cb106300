"""Serving a checkout through gunicorn with production settings on the bench database: a mixin
of the bench_served command (it reads the command's options)."""

from __future__ import annotations

import http.client
import os
import secrets
import subprocess  # nosec B404 - gunicorn and collectstatic, never with user input
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError


class GunicornServing:
    def _start_gunicorn(
        self, port: int, database: str, *, cwd: Path | None = None, queue: str = ""
    ) -> subprocess.Popen:
        database_url = self._database_url(database)
        env = {
            **os.environ,
            "DEBUG": "false",
            # HTTPS-only settings stay on; the bench client is the TLS proxy.
            "BEHIND_PROXY": "true",
            "SECRET_KEY": settings.SECRET_KEY,
            "DATABASE_URL": database_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            # Tasks the pages queue go to a queue nobody consumes (no worker is measured),
            # unless the caller runs a worker on the queue it names.
            "CELERY_QUEUE": queue or f"bench-served-{secrets.token_hex(4)}",
        }
        env.pop("HTTPS", None)
        app = "tracker.wsgi:application"
        extra: list[str] = []
        if self.opts["profile"]:
            app = "tracker.profiling:application"
            env["RESOLVE_PROFILE_DIR"] = str(Path(self.opts["profile"]).resolve())
            env["RESOLVE_PROFILE_REQUESTS"] = str(self.opts["requests"])
            extra = ["--workers", "1", "--threads", "1"]
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--config",
            str(Path(settings.BASE_DIR) / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            *extra,
        ]
        if cwd is not None:
            # Another checkout: its own code (the working directory comes first on the path),
            # its own gunicorn.conf.py and static files (collected there first).
            cmd[cmd.index("--config") + 1] = str(cwd / "gunicorn.conf.py")
            env["RESOLVE_VAR_DIR"] = str(cwd / "var")
            subprocess.run(  # noqa: S603  # nosec B603
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                env=env,
                cwd=cwd,
                check=True,
            )
        return subprocess.Popen(cmd, env=env, cwd=cwd or settings.BASE_DIR)  # noqa: S603  # nosec B603

    def _database_url(self, database: str) -> str:
        url = settings.DATABASES["default"]
        auth = url.get("USER") or ""
        if url.get("PASSWORD"):
            auth += f":{url['PASSWORD']}"
        return f"postgres://{auth}@{url.get('HOST') or '127.0.0.1'}:{url.get('PORT') or 5432}/{database}"

    def _wait_ready(self, port: int, server: subprocess.Popen) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError("gunicorn exited during start-up.")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status in (200, 503):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise CommandError("gunicorn did not answer within 60 s.")
