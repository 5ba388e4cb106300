"""SSRF guard: where a webhook may be sent.

Refused by default: schemes other than http and https, credentials in the URL, and hosts that
resolve (any of their addresses) to loopback, private, link-local, multicast, reserved or
unspecified addresses. Checked when a subscription is saved and again before every send (DNS
can change); the send then connects to the vetted address itself, so a second lookup cannot
swap it (DNS rebinding). `WEBHOOK_ALLOW_PRIVATE_NETWORKS` lifts the address rule for
on-premises installs (and the tests' local receiver); the scheme rule always holds.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2000


class UnsafeURL(ValueError):
    """A target Resolve refuses to call; `str(error)` is shown to the user."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (the Host header, TLS server name)
    port: int
    address: str  # the vetted IP address to connect to
    path: str  # path and query

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses (the one place DNS is asked; tests replace it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _refusal(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified or ip.is_reserved:
        return "a reserved address"
    if ip.is_private or not ip.is_global:
        return "a private network address"
    return None


def parse(url: str) -> SplitResult:
    """The URL's parts if it is a well-formed http(s) URL; UnsafeURL otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"The URL is too long (at most {MAX_URL_LENGTH} characters).")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UnsafeURL("This is not a valid URL.") from None
    if "://" not in url and not parts.scheme:
        raise UnsafeURL("Enter a full URL such as https://ci.example.com/hooks/resolve.")
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host name.")
    if parts.username or parts.password:
        raise UnsafeURL("Put credentials in the receiver's secret, not in the URL.")
    del port
    return parts


def check_target(url: str, *, allow_private: bool | None = None) -> Target:
    """Parse, resolve and vet the URL; the address to connect to, or UnsafeURL."""
    parts = parse(url)
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise UnsafeURL(f"The host name {host} does not resolve.") from None
    if not addresses:
        raise UnsafeURL(f"The host name {host} does not resolve.")
    if not allow_private:
        for address in addresses:
            why = _refusal(address)
            if why is not None:
                raise UnsafeURL(
                    f"{host} resolves to {why} ({address}); webhooks go to public addresses only."
                )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, addresses[0], path)
