"""`manage.py receive_mail --port 2525`: the SMTP (or `--lmtp`) receiver the MTA delivers to,
optionally watching a drop folder of .eml files (`--drop-dir`, used by make run)."""

import asyncio
import os
import signal
import socket
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from mailin.transports import MailInHandler, ingest_drop_folder, smtp_factory


class Command(BaseCommand):
    help = "Receive mail over SMTP/LMTP (and from a drop folder) and file it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=2525, help="port (0: a free one)")
        parser.add_argument("--lmtp", action="store_true", help="speak LMTP instead of SMTP")
        parser.add_argument("--workers", type=int, default=None, help="database threads")
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="processes sharing the socket (Python parses mail on one core per process)",
        )
        parser.add_argument(
            "--filers",
            type=int,
            default=2,
            help="filing loops per process (filing batches run in parallel)",
        )
        parser.add_argument(
            "--drop-dir",
            nargs="?",
            const=str(settings.MAILIN_DROP_DIR),
            default=None,
            help="also ingest .eml files dropped in this folder (default var/mail-in/)",
        )

    def handle(self, *args, **options):
        workers = options["workers"] or (4 if settings.IS_POSTGRES else 1)
        sock = socket.create_server((options["host"], options["port"]))
        port = sock.getsockname()[1]
        kind = "LMTP" if options["lmtp"] else "SMTP"
        self.stdout.write(f"Receiving mail ({kind}) on {options['host']}:{port}", ending="\n")
        self.stdout.flush()
        children = []
        connections.close_all()  # never share a database connection across fork
        for _ in range(max(1, options["processes"]) - 1):
            pid = os.fork()
            if pid == 0:
                asyncio.run(self._serve(sock, options, workers, drop_dir=None))
                os._exit(0)
            children.append(pid)
        try:
            asyncio.run(self._serve(sock, options, workers, drop_dir=options["drop_dir"]))
        finally:
            for pid in children:
                os.kill(pid, signal.SIGTERM)
            for pid in children:
                os.waitpid(pid, 0)

    async def _serve(self, sock, options, workers: int, *, drop_dir) -> None:
        loop = asyncio.get_running_loop()
        handler = MailInHandler(workers=workers, filers=options["filers"])
        factory = smtp_factory(handler, lmtp=options["lmtp"])
        server = await loop.create_server(factory, sock=sock)
        handler.file_soon()  # what an earlier run stored and did not file
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        drop = None
        if drop_dir:
            folder = Path(drop_dir)
            self.stdout.write(f"Watching {folder}/ for .eml files", ending="\n")
            self.stdout.flush()
            drop = asyncio.create_task(self._watch(folder, handler))
        async with server:
            await stop.wait()
        if drop:
            drop.cancel()
        handler.pool.shutdown(wait=True)

    async def _watch(self, folder: Path, handler: MailInHandler) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(handler.pool, ingest_drop_folder, folder)
            except Exception as exc:  # keep watching; the file stays for the next round
                self.stderr.write(f"Drop folder: {type(exc).__name__}: {exc}")
            await asyncio.sleep(2)
