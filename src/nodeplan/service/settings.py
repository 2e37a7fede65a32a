"""Settings of the service (what ``nodeplan serve`` passes to :func:`~nodeplan.service.app.create_app`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nodeplan.scenario.model import Scenario
from nodeplan.service.errors import ServiceError

__all__ = ["DEFAULT_STALE_AFTER_S", "ServiceSettings"]

#: OpenGradient's TEE registry: a TEE is active while its last heartbeat is under 1800 s old
#: (heartbeats are sent every 900 s).
DEFAULT_STALE_AFTER_S = 1800.0


@dataclass(frozen=True)
class ServiceSettings:
    """How the service runs.

    Parameters
    ----------
    db_path : SQLite file (created and seeded from ``scenario`` when new)
    scenario : scenario to seed a new database with; ``None`` = the built-in ``opengradient`` (for a
        database that is already seeded, ``None`` keeps what it holds)
    admin_token : bearer token of the admin (registers/removes nodes, issues node tokens)
    stale_after_s : a node whose last heartbeat is older than this is treated as down, s
    insecure_dev : allow running without an admin token (admin endpoints then need no token)
    clock : seconds since the epoch; tests inject a clock they can advance
    """

    db_path: Path = Path("nodeplan.db")
    scenario: Scenario | None = None
    admin_token: str | None = None
    stale_after_s: float = DEFAULT_STALE_AFTER_S
    insecure_dev: bool = False
    clock: Callable[[], float] = field(default=time.time)

    def __post_init__(self) -> None:
        if not self.admin_token and not self.insecure_dev:
            raise ServiceError(
                "admin_token: no admin token; pass --admin-token or set NODEPLAN_ADMIN_TOKEN "
                "(or --insecure-dev for a local trial without authentication of admin requests)"
            )
        if self.admin_token is not None and len(self.admin_token) < 16:
            raise ServiceError(
                f"admin_token: must be at least 16 characters (got {len(self.admin_token)}); "
                "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        s = self.stale_after_s
        if isinstance(s, bool) or not isinstance(s, int | float) or not math.isfinite(s) or s <= 0:
            raise ServiceError(f"stale_after_s: must be a positive number of seconds (got {s!r})")
