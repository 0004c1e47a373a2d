"""The client's address, for rate limits and the access log.

A peer's `X-Forwarded-For` is believed only when the peer is one of `[server] trusted_proxies`:
anyone else could write any address there and so slip out of their own rate limit (or into
someone else's). Behind trusted proxies the client is the rightmost address the proxies did not
add themselves; what a client wrote in the header before the first proxy appended to it is never
taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from aiohttp import web

from bayaffairs.handlers.keys import CLIENT, CONFIG

Network = IPv4Network | IPv6Network


def client_address(request: web.Request) -> str:
    """Worked out once per request."""
    known = request.get(CLIENT)
    if known is None:
        known = request[CLIENT] = _client(
            request.remote or "",
            request.headers.getall("X-Forwarded-For", ()),
            request.app[CONFIG].settings.server.trusted_proxies,
        )
    return known


def _client(peer: str, forwarded: Sequence[str], trusted: Sequence[Network]) -> str:
    if not trusted or not forwarded or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded for hop in header.split(",")]
    client = peer
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            return client  # garbled: the last address a trusted hop vouched for
        client = str(address)
        if not any(address in network for network in trusted):
            return client
    return client


def _trusted(peer: str, trusted: Sequence[Network]) -> bool:
    address = _parse(peer)
    return address is not None and any(address in network for network in trusted)


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
