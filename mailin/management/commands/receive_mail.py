"""`manage.py receive_mail --port 2525`: the SMTP (or `--lmtp`) receiver the MTA delivers to,
optionally watching a drop folder of .eml files (`--drop-dir`, used by make run)."""

import asyncio
import signal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from mailin.transports import MailInHandler, ingest_drop_folder, smtp_factory


class Command(BaseCommand):
    help = "Receive mail over SMTP/LMTP (and from a drop folder) and file it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=2525, help="port (0: a free one)")
        parser.add_argument("--lmtp", action="store_true", help="speak LMTP instead of SMTP")
        parser.add_argument("--workers", type=int, default=None, help="database threads")
        parser.add_argument(
            "--drop-dir",
            nargs="?",
            const=str(settings.MAILIN_DROP_DIR),
            default=None,
            help="also ingest .eml files dropped in this folder (default var/mail-in/)",
        )

    def handle(self, *args, **options):
        workers = options["workers"] or (4 if settings.IS_POSTGRES else 1)
        asyncio.run(self._serve(options, workers))

    async def _serve(self, options, workers: int) -> None:
        loop = asyncio.get_running_loop()
        handler = MailInHandler(workers=workers)
        factory = smtp_factory(handler, lmtp=options["lmtp"])
        server = await loop.create_server(factory, host=options["host"], port=options["port"])
        port = server.sockets[0].getsockname()[1]
        kind = "LMTP" if options["lmtp"] else "SMTP"
        self.stdout.write(f"Receiving mail ({kind}) on {options['host']}:{port}", ending="\n")
        self.stdout.flush()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        drop = None
        if options["drop_dir"]:
            folder = Path(options["drop_dir"])
            self.stdout.write(f"Watching {folder}/ for .eml files", ending="\n")
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
