"""The HTTP service (``nodeplan serve``): node registry with heartbeats, live routing, metrics, dashboard.

See ``docs/service.md``. Needs the ``service`` extra (FastAPI, uvicorn, httpx).
"""

from nodeplan.service.app import create_app, open_network
from nodeplan.service.errors import ApiError, ServiceError
from nodeplan.service.runner import ServerThread
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
