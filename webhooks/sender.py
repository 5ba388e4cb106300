"""One HTTP POST to a receiver, defensively: the vetted address pinned (no second DNS
lookup), connect and read timeouts, no redirects, the answer read up to a small cap.
Signed per Standard Webhooks with the `standardwebhooks` package (both secrets during a
rotation, space-separated signatures as the specification allows)."""

import threading
import time
from dataclasses import dataclass
from datetime import datetime

import urllib3
from django.conf import settings
from standardwebhooks import Webhook

from .urlsafety import Target, UnsafeURL, check_target

USER_AGENT = "Resolve-Webhooks/1"
EXCERPT_BYTES = 1024


@dataclass
class Result:
    status: int | None  # None: no HTTP answer (timeout, refused, unsafe)
    duration_ms: int
    excerpt: str = ""
    error: str = ""
    retry_after: str | None = None
    # True when the endpoint itself is unreachable (timeout, connection refused): the rest
    # of this endpoint's batch waits instead of timing out one by one.
    unreachable: bool = False
    refused: bool = False  # the SSRF guard said no: permanent


def signature(secrets: list[str], webhook_id: str, at: datetime, body: str) -> str:
    return " ".join(Webhook(s).sign(webhook_id, at, body) for s in secrets)


def headers_for(
    secrets: list[str], webhook_id: str, at: datetime, body: str, version: int
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature(secrets, webhook_id, at, body),
        "Resolve-Webhook-Version": str(version),
    }


_pools: dict[tuple, urllib3.HTTPConnectionPool] = {}
_pools_lock = threading.Lock()


def _pool(target: Target) -> urllib3.HTTPConnectionPool:
    """A keep-alive pool per (address, port, server name) in this worker process."""
    key = (target.scheme, target.address, target.port, target.host)
    with _pools_lock:
        return _pools.get(key) or _new_pool(key, target)


def _new_pool(key: tuple, target: Target) -> urllib3.HTTPConnectionPool:
    pool = _pools.get(key)
    if pool is None:
        if len(_pools) > 200:
            for old in _pools.values():
                old.close()
            _pools.clear()
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                target.address,
                target.port,
                maxsize=settings.WEBHOOK_SEND_THREADS,
                block=False,
                retries=False,
                server_hostname=target.host,
                assert_hostname=target.host,
                cert_reqs="CERT_REQUIRED",
            )
        else:
            pool = urllib3.HTTPConnectionPool(
                target.address,
                target.port,
                maxsize=settings.WEBHOOK_SEND_THREADS,
                block=False,
                retries=False,
            )
        _pools[key] = pool
    return pool


def _read_capped(response: urllib3.BaseHTTPResponse, deadline: float) -> tuple[bytes, bool]:
    """Up to WEBHOOK_RESPONSE_MAX_BYTES of the answer, and whether that was all of it."""
    cap = settings.WEBHOOK_RESPONSE_MAX_BYTES
    got = bytearray()
    while len(got) < cap and time.monotonic() < deadline:
        chunk = response.read(min(16384, cap - len(got)))
        if not chunk:
            return bytes(got), True
        got += chunk
    return bytes(got), False


def post(url: str, body: str, headers: dict[str, str]) -> Result:
    started = time.monotonic()

    def ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = check_target(url)
    except UnsafeURL as e:
        return Result(None, ms(), error=f"Refused: {e}"[:300], refused=True)
    timeout = urllib3.Timeout(
        connect=settings.WEBHOOK_CONNECT_TIMEOUT, read=settings.WEBHOOK_READ_TIMEOUT
    )
    response = None
    try:
        response = _pool(target).urlopen(
            "POST",
            target.path,
            body=body.encode(),
            headers={**headers, "Host": target.host_header},
            timeout=timeout,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        # The whole exchange is bounded too: a receiver trickling bytes cannot hold the worker.
        deadline = started + settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT
        raw, complete = _read_capped(response, deadline)
        status = response.status
        retry_after = response.headers.get("Retry-After")
        if not complete:
            # The rest is not ours to wait for: drop the connection rather than drain it.
            response.close()
        return Result(
            status,
            ms(),
            excerpt=raw[:EXCERPT_BYTES].decode("utf-8", "replace"),
            retry_after=retry_after,
        )
    except urllib3.exceptions.ReadTimeoutError:
        return Result(None, ms(), error="Timed out waiting for the answer", unreachable=True)
    except urllib3.exceptions.NewConnectionError as e:
        # (A subclass of ConnectTimeoutError in urllib3 2: caught first.)
        reason = str(e).rsplit(": ", 1)[-1]
        return Result(None, ms(), error=f"Connection failed: {reason}"[:300], unreachable=True)
    except urllib3.exceptions.ConnectTimeoutError:
        return Result(None, ms(), error="Timed out connecting", unreachable=True)
    except (urllib3.exceptions.HTTPError, OSError) as e:
        return Result(None, ms(), error=f"{type(e).__name__}: {e}"[:300], unreachable=True)
    finally:
        if response is not None:
            response.release_conn()
