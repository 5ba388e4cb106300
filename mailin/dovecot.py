"""A throwaway Dovecot IMAP server for the tests and the benchmark: its own configuration,
mail and state in a temporary folder, on a free port of 127.0.0.1, one user."""

from __future__ import annotations

import getpass
import imaplib
import os
import pwd
import shutil
import socket
import subprocess  # nosec B404 — starts the Debian dovecot binary with a fixed argument list
import tempfile
import time
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
USER, PASSWORD = "resolve", "mail-in-test"  # nosec B105 — a local throwaway server


def available() -> bool:
    return Path(DOVECOT).exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="resolve-dovecot-"))
        self.dir.chmod(0o755)  # the mail and auth processes run as dovecot's own users
        self.port = _free_port()
        self.config = self.dir / "dovecot.conf"

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def start(self) -> Dovecot:
        root = os.geteuid() == 0
        # As root, dovecot refuses uid 0 for mail: the Debian package's own users serve.
        mail_user = "dovecot" if root else getpass.getuser()
        login_user = "dovenull" if root else mail_user
        for sub in ("run", "state", "mail", "home"):
            (self.dir / sub).mkdir()
        (self.dir / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        if root:
            entry = pwd.getpwnam(mail_user)
            for sub in ("mail", "home"):
                os.chown(self.dir / sub, entry.pw_uid, entry.pw_gid)
        d = self.dir
        self.config.write_text(
            f"""base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
mail_fsync = never
first_valid_uid = {pwd.getpwnam(mail_user).pw_uid}
default_internal_user = {mail_user}
default_login_user = {login_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/users
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_user} home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
        )
        subprocess.run([DOVECOT, "-c", str(self.config)], check=True)  # noqa: S603  # nosec B603
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(USER, PASSWORD)
        return client

    def append(self, *messages: bytes) -> None:
        client = self.client()
        try:
            for raw in messages:
                client.append("INBOX", None, None, raw)  # type: ignore[arg-type]
        finally:
            client.logout()

    def unseen(self) -> int:
        client = self.client()
        try:
            client.select("INBOX")
            _typ, data = client.search(None, "UNSEEN")
            return len(data[0].split())
        finally:
            client.logout()

    def stop(self) -> None:
        subprocess.run([DOVECOT, "-c", str(self.config), "stop"], check=False)  # noqa: S603  # nosec B603
        time.sleep(0.2)
        shutil.rmtree(self.dir, ignore_errors=True)
