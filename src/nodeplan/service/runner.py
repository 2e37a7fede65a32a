"""Run the app with uvicorn in a background thread on a loopback socket (tests, benchmarks, embedding).

>>> # with ServerThread(create_app(settings)) as srv: httpx.get(srv.url + "/healthz")
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from nodeplan.service.errors import ServiceError

__all__ = ["ServerThread"]


class ServerThread:
    """uvicorn serving ``app`` on ``host:port`` (port 0 = a free one) in a daemon thread.

    Use as a context manager; :attr:`url` is ``http://host:port``. Leaving the block asks uvicorn to
    shut down (the app's shutdown closes the database) and waits up to ``timeout_s`` for it.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 10.0) -> None:
        # uvicorn binds the socket itself: a socket handed over with ``sockets=[...]`` is served without
        # TCP_NODELAY, which adds a ~40 ms delayed-ACK stall to every keep-alive request.
        self.host, self.port = host, port
        self.timeout_s = timeout_s
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        """Start serving; returns once uvicorn accepts connections (or raises after ``timeout_s``)."""
        self.thread.start()
        deadline = time.monotonic() + self.timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ServiceError(f"server: uvicorn did not start on {self.url} within {self.timeout_s} s")
            time.sleep(0.01)
        self.port = int(self.server.servers[0].sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(self.timeout_s)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
