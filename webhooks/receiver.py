"""A webhook receiver for trying Resolve's webhooks locally, and for its tests and benchmark.

    python -m webhooks.receiver [--host 127.0.0.1] [--port 0] [--secret /path=whsec_…]

Prints `listening on <port>` once ready. Every POST to any path is verified with the
`standardwebhooks` library against the secrets registered for that path and recorded. It is
scripted over HTTP (no Django needed):
- `POST /_secrets` `{"/path": ["whsec_…", …]}`: secrets accepted for a path;
- `POST /_script` `{"/path": ["500", "429:2", "sleep:30", "big:10485760", "200"]}`: the next
  answers for a path (then 200 again); `429:N` sends `Retry-After: N`;
- `GET /_records`: everything received, in order; `POST /_reset` forgets it all.
"""

import argparse
import json
import socket
import sys
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: list[dict] = []
        self.secrets: dict[str, list[str]] = {}
        self.script: dict[str, deque[str]] = defaultdict(deque)


STATE = State()


def verify(path: str, body: bytes, headers: dict[str, str]) -> tuple[bool, str]:
    secrets = STATE.secrets.get(path) or STATE.secrets.get("*") or []
    if not secrets:
        return False, "no secret registered"
    error = ""
    for secret in secrets:
        try:
            Webhook(secret).verify(body, headers)
            return True, ""
        except WebhookVerificationError as e:
            error = str(e)
    return False, error


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(
        self, format: str, *args: Any
    ) -> None:  # quiet: thousands of requests in the bench
        pass

    def _json(self, status: int, payload: object, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        try:
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (timeout, killed worker)

    def do_GET(self) -> None:
        if self.path == "/_records":
            with STATE.lock:
                self._json(200, list(STATE.records))
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.startswith("/_"):
            return self._control(body)
        received = time.time()
        headers = {k.lower(): v for k, v in self.headers.items()}
        ok, error = verify(self.path, body, headers)
        with STATE.lock:
            queued = STATE.script[self.path]
            step = queued.popleft() if queued else "200"
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        record = {
            "path": self.path,
            "id": headers.get("webhook-id"),
            "timestamp": headers.get("webhook-timestamp"),
            "signature": headers.get("webhook-signature"),
            "version": headers.get("resolve-webhook-version"),
            "verified": ok,
            "error": error,
            "received_at": received,
            "answer": step,
            "body": parsed,
        }
        with STATE.lock:
            STATE.records.append(record)
        self._answer(step)

    def _answer(self, step: str) -> None:
        kind, _, arg = step.partition(":")
        if kind == "sleep":
            time.sleep(float(arg))
            return self._json(200, {"ok": True, "slept": arg})
        if kind == "429":
            return self._json(429, {"error": "slow down"}, {"Retry-After": arg or "1"})
        if kind == "big":
            size = int(arg or 10 * 1024 * 1024)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                sent = 0
                while sent < size:
                    self.wfile.write(chunk[: size - sent])
                    sent += len(chunk)
            except OSError:
                pass  # the client hung up after its cap: expected
            return None
        if kind == "close":
            self.close_connection = True
            self.connection.close()
            return None
        status = int(kind)
        return self._json(status, {"received": status < 300})

    def _control(self, body: bytes) -> None:
        data = json.loads(body or b"{}")
        with STATE.lock:
            if self.path == "/_secrets":
                STATE.secrets.update(data)
            elif self.path == "/_script":
                for path, steps in data.items():
                    STATE.script[path].extend(steps)
            elif self.path == "/_reset":
                STATE.records.clear()
                STATE.script.clear()
                STATE.secrets.clear()
            else:
                return self._json(404, {"error": "unknown control"})
        return self._json(200, {"ok": True})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--secret", action="append", default=[], help="PATH=whsec_… (repeatable), from the start"
    )
    args = parser.parse_args(argv)
    for item in args.secret:
        path, _, secret = item.partition("=")
        STATE.secrets.setdefault(path, []).append(secret)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
