"""``nodeplan serve``: the HTTP service (node registry with heartbeats, live routing, metrics, dashboard)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated

import typer

from nodeplan.service.errors import ServiceError
from nodeplan.service.settings import DEFAULT_STALE_AFTER_S

__all__ = ["serve_cmd"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_cmd(
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            "-s",
            help="Scenario file (.yaml/.json) or built-in name that seeds a NEW database "
            "(default: opengradient; an existing --db keeps the nodes it holds).",
        ),
    ] = None,
    db: Annotated[
        Path, typer.Option("--db", help="SQLite file of the state (WAL mode); created if missing.")
    ] = Path("nodeplan.db"),
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8080,
    admin_token: Annotated[
        str | None,
        typer.Option(
            "--admin-token",
            envvar="NODEPLAN_ADMIN_TOKEN",
            show_envvar=True,
            help="Bearer token of the admin (16+ characters); prefer the environment variable.",
        ),
    ] = None,
    stale_after: Annotated[
        float,
        typer.Option(
            "--stale-after",
            min=0.001,
            help="Seconds after its last heartbeat that a node counts as down (OpenGradient: 1800).",
        ),
    ] = DEFAULT_STALE_AFTER_S,
    insecure_dev: Annotated[
        bool,
        typer.Option(
            "--insecure-dev",
            help="Run without an admin token (admin requests unauthenticated; loopback only).",
        ),
    ] = False,
) -> None:
    """Serve the live network over HTTP: nodes register and heartbeat, clients ask where to route.

    Admin requests (register/remove nodes, issue node tokens) need the admin bearer token; a node's
    heartbeat needs that node's own token (returned once at registration). A node whose last heartbeat
    is older than --stale-after seconds is not routed to. Routing, audit, metrics (/metrics) and the
    dashboard (/) are open. State persists in --db across restarts. Needs the `service` extra.

    Example: [bold]NODEPLAN_ADMIN_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    nodeplan serve --db og.db --port 8080[/], then open http://127.0.0.1:8080/ or
    [bold]curl -s -X POST localhost:8080/v1/route -H 'content-type: application/json'
    -d '{"model": "llama-3-8b-q4", "city": "Paris"}'[/]. See docs/service.md.
    """
    from nodeplan.scenario.io import resolve_scenario
    from nodeplan.service.settings import ServiceSettings

    if insecure_dev and not _is_loopback(host):
        raise ServiceError(f"--host: --insecure-dev only listens on loopback addresses (got {host!r})")
    try:
        import uvicorn

        from nodeplan.service.app import create_app
    except ImportError as exc:  # the base install has no FastAPI/uvicorn
        raise ServiceError(
            f"serve: {exc.name or 'a dependency'} is not installed; install the service extra: "
            "pip install -e '.[service]'"
        ) from None
    sc = resolve_scenario(scenario) if scenario is not None else None
    token = admin_token or os.environ.get("NODEPLAN_ADMIN_TOKEN") or None
    settings = ServiceSettings(
        db_path=db, scenario=sc, admin_token=token, stale_after_s=stale_after, insecure_dev=insecure_dev
    )
    app = create_app(settings)
    typer.echo(f"nodeplan serve: http://{host}:{port}/ (db {db}, stale after {stale_after:g} s)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
