"""The HTTP service (``nodeplan serve``): node registry with heartbeats, live routing, metrics, dashboard.

See ``docs/service.md``. Needs the ``service`` extra (FastAPI, uvicorn, httpx). The FastAPI parts are
imported on first use, so ``import nodeplan.service.errors`` (used by the CLI) works without the extra.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from nodeplan.service.errors import ApiError, ServiceError
from nodeplan.service.settings import DEFAULT_STALE_AFTER_S, ServiceSettings

__all__ = [
    "DEFAULT_STALE_AFTER_S",
    "ApiError",
    "ServerThread",
    "ServiceError",
    "ServiceSettings",
    "create_app",
    "open_network",
]

# name -> module that defines it; these modules import FastAPI/uvicorn.
_LAZY = {"create_app": "app", "open_network": "app", "ServerThread": "runner"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nodeplan.service' has no attribute {name!r}")
    try:
        return getattr(import_module(f"nodeplan.service.{module}"), name)
    except ImportError as exc:
        raise ServiceError(
            f"service: {exc.name or 'a dependency'} is not installed; install the service extra: "
            "pip install -e '.[service]'"
        ) from None
