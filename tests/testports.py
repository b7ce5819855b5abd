"""Free loopback ports for the servers the tests start, shared by tests/sandbox and tests/integration.

A port the kernel hands out for `bind(0)` lies in the ephemeral range, the same range it draws the local ports of
outgoing connections from. Between choosing such a port and the server binding it, any of the suite's many HTTP
calls can take it as its local port, and the server then fails with "address already in use" (the 50-environment
load test, binding 50 ports, met this in CI). Ports below the ephemeral range are never handed out that way, so a
port chosen there stays free unless another test chooses the same one.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

# Below this: well-known services and the fixed ports of the repository's own inventories (sandbox 18787-18790,
# molecule drills 18887-18890), which a drill binds while other tests run.
_FLOOR = 20000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    """A loopback port that is free now and outside the range the kernel gives outgoing connections."""
    high = _ephemeral_low() - 1
    rng = random.SystemRandom()
    for _attempt in range(200):
        port = rng.randint(_FLOOR, high) if high > _FLOOR else 0
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError(f"no free loopback port between {_FLOOR} and {high} after 200 tries")
