"""The FastAPI application: :func:`create_app` builds it from :class:`ServiceSettings`.

Endpoints (JSON; errors are ``{"error": "<field>: <message> (got <value>)"}`` with a 4xx/503 status):

==========================================  ======  =======================================================
``POST /v1/nodes``                           admin   register a node (body: scenario Node fields) -> token
``DELETE /v1/nodes/{id}``                    admin   remove a node and its token
``POST /v1/nodes/{id}/token``                admin   issue a new token for a node (replaces the old one)
``PUT /v1/nodes/{id}/status``                admin   ``{"status": "down"}`` takes a node out of routing
``POST /v1/nodes/{id}/heartbeat``            node    the node itself says it is alive (its own token only)
``GET /v1/nodes``, ``GET /v1/nodes/{id}``    open    nodes with liveness and heartbeat age
``POST /v1/route``                           open    route one request on the live nodes
``GET /v1/audit``                            open    audit JSON of the live nodes (docs/audit.md)
``GET /v1/whatif?dimension=&value=``         open    the failure-table row of one domain
``GET /v1/events``                           admin   latest events of the log
``GET /healthz``, ``GET /metrics``, ``GET /`` open    health, Prometheus metrics, dashboard
==========================================  ======  =======================================================
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from nodeplan.exceptions import NodeplanError, NoRouteError, RoutingError
from nodeplan.routing.policies import POLICIES
from nodeplan.routing.router import route
from nodeplan.routing.types import Request as RouteRequest
from nodeplan.scenario.io import load_builtin
from nodeplan.scenario.model import Node
from nodeplan.service.auth import HashedSecret, Principal, PrincipalKind, hash_secret, parse_bearer
from nodeplan.service.dashboard import dashboard_figures, dashboard_html
from nodeplan.service.errors import ApiError, ServiceError
from nodeplan.service.live import LiveNetwork, close_matches
from nodeplan.service.metrics import CONTENT_TYPE, Metrics
from nodeplan.service.schemas import RouteBody, StatusBody, one_line_error
from nodeplan.service.settings import ServiceSettings
from nodeplan.service.store import Store

__all__ = ["create_app", "open_network", "read_node"]

_Auth = Annotated[str | None, Header(alias="Authorization")]


def open_network(settings: ServiceSettings) -> LiveNetwork:
    """Open the database (seeding it from the scenario when new) and load the live network."""
    store = Store.open(settings.db_path)
    if store.is_empty():
        store.seed(settings.scenario or load_builtin(), now=settings.clock())
    else:
        stored = store.load().base.get("name")
        if settings.scenario is not None and settings.scenario.name != stored:
            store.close()
            raise ServiceError(
                f"--db: {settings.db_path} was seeded from scenario {stored!r}, not {settings.scenario.name!r}; "
                "use another --db file for another scenario"
            )
    return LiveNetwork(store, settings.clock, settings.stale_after_s)


def create_app(settings: ServiceSettings) -> FastAPI:
    """The application for ``settings`` (opens/seeds the database now; closes it on shutdown)."""
    net = open_network(settings)
    admin: HashedSecret | None = hash_secret(settings.admin_token) if settings.admin_token else None
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        net.store.close()

    app = FastAPI(
        lifespan=lifespan,
        title="nodeplan",
        summary="Live node registry and router of a decentralized inference network",
        version="1",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.network = net
    app.state.metrics = metrics

    @app.middleware("http")
    async def _count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        r = request.scope.get("route")
        # the route template, without the ``:path`` convertor that lets node ids contain "/"
        endpoint = (getattr(r, "path", None) or "unmatched").replace(":path}", "}")
        metrics.count_request(endpoint, request.method, response.status_code)
        return response

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, text = one_line_error(exc.errors())
        return JSONResponse({"error": text}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": f"{request.url.path}: {exc.detail}"}, status_code=exc.status_code)

    @app.exception_handler(NodeplanError)
    async def _nodeplan(request: Request, exc: NodeplanError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=422)

    def principal(authorization: str | None) -> Principal:
        if admin is None:  # --insecure-dev without a token: every caller is the admin
            tok = parse_bearer(authorization)
            who = net.authenticate(tok, None) if tok else None
            return who or Principal(PrincipalKind.ADMIN)
        if authorization is None:
            raise ApiError(401, "Authorization: missing; send 'Authorization: Bearer <token>'")
        tok = parse_bearer(authorization)
        if tok is None:
            raise ApiError(401, "Authorization: expected 'Bearer <token>'")
        who = net.authenticate(tok, admin)
        if who is None:
            raise ApiError(401, "Authorization: invalid token (not the admin token nor a node token)")
        return who

    def require_admin(authorization: str | None) -> None:
        who = principal(authorization)
        if who.kind is not PrincipalKind.ADMIN:
            raise ApiError(403, f"Authorization: the token of node {who.node_id!r} cannot do admin requests")

    def admin_only(authorization: _Auth = None) -> None:
        # a dependency: FastAPI runs it before validating a declared body, so an unauthenticated caller
        # gets 401/403, never the validation errors of a body it may not send. FastAPI *decodes* a
        # declared JSON body before any dependency, though, so POST /v1/nodes declares none and reads
        # its body itself (read_node) after this check: malformed JSON is 401 too without the token.
        require_admin(authorization)

    _admin = Depends(admin_only)

    # -- nodes ---------------------------------------------------------------------------------------
    @app.post("/v1/nodes", status_code=201, openapi_extra=_NODE_BODY)
    async def register(request: Request, _: None = _admin) -> dict[str, Any]:
        """Register a node (admin). Returns its token once: keep it, only its hash is stored."""
        node = read_node(await request.body())
        tok = await run_in_threadpool(net.register, node)
        view = await run_in_threadpool(net.node, node.id)
        return {"node": view.to_dict(), "token": tok.token, "token_id": tok.token_id}

    @app.delete("/v1/nodes/{node_id:path}")
    def remove(node_id: str, _: None = _admin) -> dict[str, Any]:
        """Remove a node and its token (admin)."""
        net.remove(node_id)
        return {"removed": node_id}

    @app.post("/v1/nodes/{node_id:path}/token")
    def token(node_id: str, _: None = _admin) -> dict[str, Any]:
        """Issue a new token for a node, e.g. a node of the seed scenario (admin)."""
        tok = net.issue_token(node_id)
        return {"node_id": node_id, "token": tok.token, "token_id": tok.token_id}

    @app.put("/v1/nodes/{node_id:path}/status")
    def status(node_id: str, body: StatusBody, _: None = _admin) -> dict[str, Any]:
        """Take a node out of routing (``down``) or put it back (``up``) (admin)."""
        return net.set_status(node_id, body.status).to_dict()

    @app.post("/v1/nodes/{node_id:path}/heartbeat")
    def heartbeat(node_id: str, authorization: _Auth = None) -> dict[str, Any]:
        """The node says it is alive; only its own token is accepted."""
        who = principal(authorization)
        if who.kind is PrincipalKind.ADMIN and admin is not None:
            raise ApiError(403, f"Authorization: heartbeats of {node_id!r} need that node's own token")
        if who.kind is PrincipalKind.NODE and who.node_id != node_id:
            raise ApiError(
                403, f"Authorization: the token of node {who.node_id!r} cannot heartbeat for {node_id!r}"
            )
        return net.heartbeat(node_id).to_dict()

    @app.get("/v1/nodes")
    def nodes() -> dict[str, Any]:
        """Every node with its liveness."""
        views = net.nodes()
        return {
            "stale_after_s": net.stale_after_s,
            "now": net.clock(),
            "live": sum(v.live for v in views),
            "nodes": [v.to_dict() for v in views],
        }

    @app.get("/v1/nodes/{node_id:path}")
    def one_node(node_id: str) -> dict[str, Any]:
        """One node with its liveness."""
        return net.node(node_id).to_dict()

    @app.get("/v1/events")
    def events(_: None = _admin, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> dict[str, Any]:
        """The latest events of the log, newest first (admin)."""
        return {"events": net.store.events(limit)}

    # -- routing and audit -----------------------------------------------------------------------------
    @app.post("/v1/route")
    def route_one(body: RouteBody) -> dict[str, Any]:
        """Route one request on the live nodes (a dry run: the live state is not changed)."""
        if body.policy not in POLICIES:
            raise ApiError(422, f"policy: unknown policy {body.policy!r} (known: {', '.join(POLICIES)})")
        with net.lock:
            state = net.router_state()
            if body.model not in state.model_col:
                raise ApiError(
                    404,
                    f"model: unknown model {body.model!r} ({close_matches(body.model, list(state.model_col))})",
                )
            lat, lon, origin = body.lat, body.lon, None
            if body.city is not None:
                by_name = {s.name.lower(): s for s in state.scenario.sources}
                src = by_name.get(body.city.strip().lower())
                if src is None:
                    names = [s.name for s in state.scenario.sources]
                    raise ApiError(
                        404, f"city: unknown city {body.city!r} ({close_matches(body.city, names)})"
                    )
                lat, lon, origin = src.lat, src.lon, src.name
            req = RouteRequest(
                body.model, float(lat or 0.0), float(lon or 0.0), body.verification, body.k,
                slo_ms=body.slo_ms, policy=body.policy, origin=origin,
            )  # fmt: skip
            t0 = time.perf_counter()
            try:
                r = route(req, state, commit=False)
            except NoRouteError as exc:
                raise ApiError(503, f"model: {exc}") from None
            except RoutingError as exc:
                raise ApiError(422, str(exc)) from None
            finally:
                metrics.observe_route(time.perf_counter() - t0)
            live = int(state.up.sum())
        return {**r.to_dict(), "live_nodes": live}

    @app.get("/v1/audit")
    def audit() -> dict[str, Any]:
        """The audit of the live nodes (same JSON as ``nodeplan audit --json``)."""
        return net.audit().to_dict()

    @app.get("/v1/whatif")
    def whatif(
        dimension: Annotated[str, Query(min_length=1)], value: Annotated[str, Query(min_length=1)]
    ) -> dict[str, Any]:
        """What the loss of one domain (e.g. ``provider=aws``) does: its failure-table row."""
        res = net.audit()
        rows = [r for r in res.failure_rows if r.dimension == dimension]
        if not rows:
            dims = sorted({r.dimension for r in res.failure_rows})
            raise ApiError(
                404, f"dimension: no failure rows for {dimension!r} ({close_matches(dimension, dims)})"
            )
        row = next((r for r in rows if r.value == value), None)
        if row is None:
            vals = [r.value for r in rows]
            raise ApiError(
                404, f"value: no live node has {dimension}={value!r} ({close_matches(value, vals)})"
            )
        doc = res.to_dict()
        row_doc = next(
            r for r in doc["failure_rows"] if r["dimension"] == row.dimension and r["value"] == row.value
        )
        return {"dimension": dimension, "value": value, "baseline": doc["baseline"], "row": row_doc}

    # -- operations ----------------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Liveness of the service itself, and how many nodes are live."""
        views = net.nodes()
        return {
            "status": "ok",
            "nodes": len(views),
            "live": sum(v.live for v in views),
            "journal_mode": net.store.journal_mode(),
        }

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> Response:
        """Prometheus metrics (text exposition format)."""
        views = net.nodes()
        by = Counter(v.liveness for v in views)
        ages = {v.row.node.id: v.heartbeat_age_s for v in views if v.heartbeat_age_s is not None}
        text = metrics.render(net.live_by_role(), dict(by), ages, net.stale_after_s)
        return Response(text, media_type=CONTENT_TYPE)

    @app.get("/", response_class=HTMLResponse)
    def dashboard() -> HTMLResponse:
        """The dashboard: map, concentration, what-if failures (self-contained, works offline)."""
        return HTMLResponse(dashboard_html())

    @app.get("/v1/dashboard/figures")
    def figures() -> dict[str, Any]:
        """Plotly figures (map of live nodes by provider, concentration bars) of the live state."""
        with net.lock:
            sc, _ = net.live_scenario()
            return dashboard_figures(net.audit(), sc)

    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        # POST /v1/nodes reads its body itself: add the Node schema its openapi_extra refers to
        if app.openapi_schema is None:
            doc = plain_openapi()
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            node = Node.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in node.pop("$defs", {}).items():
                schemas.setdefault(name, sub)
            schemas["Node"] = node
        return app.openapi_schema or plain_openapi()

    app.openapi = openapi  # type: ignore[method-assign]
    return app


_NODE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}},
    }
}


def read_node(raw: bytes) -> Node:
    """The :class:`Node` of a JSON request body; :class:`RequestValidationError` shaped as FastAPI's own.

    >>> read_node(b'{"id": "a", "lat": 1, "lon": 2, "roles": ["execution"]}').id
    'a'
    >>> try:
    ...     read_node(b'{"id": "a", "lat": 1')
    ... except RequestValidationError as exc:
    ...     one_line_error(exc.errors())
    (400, "body: malformed JSON at character 20: Expecting ',' delimiter")
    """
    if not raw.strip():
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        err = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {}}
        raise RequestValidationError([{**err, "ctx": {"error": exc.msg}}]) from None
    except UnicodeDecodeError as exc:
        err = {"type": "json_invalid", "loc": ("body", exc.start), "msg": "JSON decode error", "input": {}}
        raise RequestValidationError([{**err, "ctx": {"error": "not valid UTF-8"}}]) from None
    try:
        return Node.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None
