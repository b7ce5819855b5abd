"""Run the admin API under uvicorn on 127.0.0.1, with a protocol that can drop connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from .faults import DROP_EXTENSION

HOST = "127.0.0.1"


class DroppableH11Protocol(H11Protocol):
    """h11 protocol whose requests carry a `sandbox.drop_connection` scope extension.

    ASGI gives an app no way to close the socket without a response (uvicorn answers 500 when the app
    returns without one), so the per-connection protocol hands the app a callable that aborts its transport.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            extensions = scope.get("extensions") or {}
            scope["extensions"] = {**extensions, DROP_EXTENSION: self._drop}
            await inner(scope, receive, send)

        self.app = app

    async def _drop(self) -> None:
        self.transport.abort()
        # connection_lost runs on a later loop iteration; once it has, the request cycle is marked
        # disconnected and uvicorn will not try to send its "returned without a response" 500.
        for _attempt in range(100):
            if self.cycle is None or self.cycle.disconnected:
                return
            await asyncio.sleep(0)


def bind_socket(port: int) -> socket.socket:
    """Bind 127.0.0.1:port now, so a busy port is reported before uvicorn starts."""
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so (proto 0 does not), and
    # without it a keep-alive client waits ~40 ms per request (Nagle on the body vs. the client's delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _config(app: FastAPI, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=DroppableH11Protocol,
        log_level=log_level,
        lifespan="on",
        # A request hanging on a timeout fault must not hold up shutdown for long.
        timeout_graceful_shutdown=2,
    )


def serve(app: FastAPI, sock: socket.socket, log_level: str = "info") -> None:
    logging.getLogger("uvicorn.error").info("sandbox admin API on http://%s:%d", HOST, sock.getsockname()[1])
    uvicorn.Server(_config(app, log_level)).run(sockets=[sock])


class _SharedSignalServer(uvicorn.Server):
    """A server of serve_many: signals are handled once for all of them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve_many(apps: list[tuple[FastAPI, socket.socket]], log_level: str = "info") -> None:
    """Several environments (one app each, on its own port) in one process: a fleet costs one Python, not fifty."""
    servers = [(_SharedSignalServer(_config(app, log_level)), sock) for app, sock in apps]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, lambda: [setattr(server, "should_exit", True) for server, _ in servers])
        ports = ", ".join(str(sock.getsockname()[1]) for _, sock in apps)
        logging.getLogger("uvicorn.error").info("sandbox admin API, %d environments on %s: %s", len(apps), HOST, ports)
        await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in servers))

    asyncio.run(main())
