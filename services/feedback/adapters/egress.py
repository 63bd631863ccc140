"""Where outbound webhooks may go: resolve the host, refuse internal addresses, pin the one checked.

A subscription URL is checked when it is created and again at every delivery, because a name
that resolved to a public address yesterday may resolve to 127.0.0.1 or 169.254.169.254 today
(DNS rebinding). The delivery then connects to the very address that was checked, so a second
lookup between the check and the connection cannot change it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

#: host, port -> the addresses the host resolves to (as text).
Resolver = Callable[[str, int], Awaitable[list[str]]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(Exception):
    """The URL's host is internal, or does not resolve."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (getaddrinfo), without blocking the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def refusal(address: Address, *, allow_loopback: bool) -> str | None:
    """Why an address may not receive webhooks (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if address.is_loopback:
        return None if allow_loopback else "loopback"
    if address.is_link_local:
        return "link-local"  # cloud metadata (169.254.169.254) lives here
    if address.is_multicast or address.is_unspecified:
        return "not a unicast"
    if not address.is_global:
        return "private"
    return None


@dataclass(frozen=True)
class Target:
    """A checked destination: the URL, and the address its host resolved to."""

    url: httpx.URL
    address: str

    def request_url(self) -> httpx.URL:
        """The URL with the checked address in place of the host name."""
        return self.url.copy_with(host=self.address)

    def headers(self) -> dict[str, str]:
        """The Host header the endpoint expects (its name, not the address)."""
        return {"host": self.url.netloc.decode("ascii")}

    def extensions(self) -> dict[str, str]:
        """TLS is negotiated and verified for the host name, not the address."""
        return {"sni_hostname": self.url.host}


async def checked_target(url: str, *, resolver: Resolver, allow_loopback: bool) -> Target:
    """Resolve the URL's host; every address must be allowed, else UnsafeTarget names one."""
    parsed = httpx.URL(url)
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in await resolver(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise UnsafeTarget(f"the host {host} does not resolve ({exc})") from exc
    if not addresses:
        raise UnsafeTarget(f"the host {host} does not resolve")
    for address in addresses:
        reason = refusal(address, allow_loopback=allow_loopback)
        if reason is not None:
            # One internal answer is enough to refuse: a rebinding name mixes them.
            raise UnsafeTarget(f"the host {host} resolves to {address}, a {reason} address")
    return Target(parsed, str(addresses[0]))
