"""Tell whether a host name or address means this machine (loopback), one rule everywhere.

Used for the rules that allow plain HTTP only on loopback: config (the insecure-transport
check) and the panel (cookies without ``Secure``).
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback_host"]

# RFC 6761 §6.3: "localhost" and every name under ".localhost" resolve to loopback.
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback_host(host: str) -> bool:
    """Return whether `host` (a name, an IPv4/IPv6 address, ``[::1]``) is a loopback host.

    Case and one trailing dot are ignored; an IPv6 zone (``::1%lo``) is allowed. Anything that
    needs a name lookup to decide is not loopback: the check must not depend on DNS.
    """
    name = host.strip().strip("[]").lower().removesuffix(".")
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False
