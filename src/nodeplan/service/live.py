"""The service's live network: the stored nodes, who is live now, and the router/audit views of them.

A node is **live** when its admin status is ``up`` and either

* it has sent a heartbeat within ``stale_after_s`` (OpenGradient's TEE registry rule: heartbeats every
  900 s, active while the last one is under 1800 s old), or
* it came from the seed scenario and has never sent one (``static``: the scenario vouches for it; once it
  sends a heartbeat it follows the rule above).

A registered node that has not sent its first heartbeat is ``pending`` (not live). Liveness is computed
from the injected clock on every read, so nothing has to run in the background to expire nodes.

Every change is written to the :class:`~nodeplan.service.store.Store` first (one transaction) and applied
in memory only after the commit, under one lock: memory is never ahead of the database.
"""

from __future__ import annotations

import difflib
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from nodeplan.exceptions import ScenarioError
from nodeplan.metrics.audit import AuditResult, audit_scenario
from nodeplan.routing.state import RouterState
from nodeplan.scenario.io import parse_scenario
from nodeplan.scenario.model import Node, NodeStatus, Role, Scenario
from nodeplan.service.auth import (
    HashedSecret,
    NodeToken,
    Principal,
    PrincipalKind,
    hash_secret,
    new_node_token,
    parse_node_token,
    verify_secret,
)
from nodeplan.service.errors import ApiError
from nodeplan.service.store import NodeRow, Store

__all__ = ["LiveNetwork", "Liveness", "NodeView", "close_matches"]


class Liveness:
    """Liveness labels of :meth:`LiveNetwork.nodes` (``live`` and ``static`` count as live)."""

    LIVE = "live"
    STATIC = "static"
    STALE = "stale"
    PENDING = "pending"
    DOWN = "down"


@dataclass(frozen=True)
class NodeView:
    """One node as the API shows it."""

    row: NodeRow
    liveness: str
    heartbeat_age_s: float | None

    @property
    def live(self) -> bool:
        """Whether the router may choose it."""
        return self.liveness in (Liveness.LIVE, Liveness.STATIC)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able mapping: the node spec, origin, admin status, liveness and heartbeat record."""
        return {
            "id": self.row.node.id,
            "origin": self.row.origin,
            "status": self.row.status.value,
            "liveness": self.liveness,
            "live": self.live,
            "last_heartbeat": self.row.last_heartbeat,
            "heartbeat_age_s": self.heartbeat_age_s,
            "heartbeats": self.row.heartbeats,
            "node": self.row.node.model_dump(mode="json", exclude_defaults=True),
        }


def close_matches(word: str, known: list[str]) -> str:
    """``close matches: a, b`` for an unknown name (or the known names when none is close)."""
    near = (
        difflib.get_close_matches(word, known, n=4, cutoff=0.4)
        or [k for k in known if word.lower() in k.lower()][:4]
    )
    return "close matches: " + (", ".join(near) if near else ", ".join(known[:8]) or "none")


class LiveNetwork:
    """Nodes, tokens and liveness; the router state and audit of the live nodes, cached per live set."""

    def __init__(self, store: Store, clock: Callable[[], float], stale_after_s: float) -> None:
        self.store = store
        self.clock = clock
        self.stale_after_s = float(stale_after_s)
        self.lock = threading.RLock()
        state = store.load()
        self.base: dict[str, Any] = state.base
        self.rows: dict[str, NodeRow] = {r.node.id: r for r in state.nodes}
        self.tokens: dict[str, tuple[str, HashedSecret]] = {
            t.token_id: (t.node_id, t.hashed) for t in state.tokens
        }
        self._version = 0
        self._router: tuple[tuple[int, bytes], RouterState] | None = None
        self._audit: tuple[tuple[int, bytes], AuditResult] | None = None
        self._base_sc: Scenario | None = None  # validated once; later node sets are swapped in

    # -- liveness ------------------------------------------------------------------------------------
    def _view(self, row: NodeRow, now: float) -> NodeView:
        age = None if row.last_heartbeat is None else now - row.last_heartbeat
        if row.status is NodeStatus.DOWN:
            state = Liveness.DOWN
        elif age is None:
            state = Liveness.STATIC if row.origin == "scenario" else Liveness.PENDING
        else:
            state = Liveness.LIVE if age <= self.stale_after_s else Liveness.STALE
        return NodeView(row, state, age)

    def nodes(self) -> list[NodeView]:
        """Every node with its liveness at the clock's current time, in registration order."""
        now = self.clock()
        with self.lock:
            return [self._view(r, now) for r in self.rows.values()]

    def node(self, node_id: str) -> NodeView:
        """One node's view; 404 naming close matches when unknown."""
        with self.lock:
            row = self.rows.get(node_id)
            if row is None:
                raise ApiError(
                    404, f"node: unknown node id {node_id!r} ({close_matches(node_id, list(self.rows))})"
                )
            return self._view(row, self.clock())

    def _key(self, views: list[NodeView]) -> tuple[int, bytes]:
        return self._version, np.packbits(np.array([v.live for v in views], dtype=bool)).tobytes() + bytes(
            [len(views) % 256]
        )

    def live_scenario(self) -> tuple[Scenario, tuple[int, bytes]]:
        """The scenario of every stored node, each with status ``up`` iff live now, and its cache key."""
        with self.lock:
            views = self.nodes()
            nodes = tuple(
                v.row.node
                if (v.row.node.status is NodeStatus.UP) == v.live
                else v.row.node.model_copy(update={"status": NodeStatus.UP if v.live else NodeStatus.DOWN})
                for v in views
            )
            if not nodes:
                raise ApiError(503, "nodes: the network has no nodes; register one with POST /v1/nodes")
            return self._scenario(nodes), self._key(views)

    def _scenario(self, nodes: tuple[Node, ...]) -> Scenario:
        # Every node was validated against the base scenario when it was seeded or registered, so the
        # node set is swapped in without validating models, demand and policy again on every request.
        if self._base_sc is None:
            try:
                self._base_sc = parse_scenario({**self.base, "nodes": nodes})
            except ScenarioError as exc:  # a database left invalid (e.g. edited by hand): refuse, no 500
                raise ApiError(
                    503, f"{exc}; the stored network is not a valid scenario (register a node that fixes it)"
                ) from None
            return self._base_sc
        return self._base_sc.model_copy(update={"nodes": nodes})

    def router_state(self) -> RouterState:
        """Router state of the live nodes (rebuilt only when the node set or the live set changed)."""
        with self.lock:
            key = self._key(self.nodes())
            if self._router is None or self._router[0] != key:
                sc, key = self.live_scenario()
                self._router = (key, RouterState.from_scenario(sc, seed=0))
            return self._router[1]

    def audit(self) -> AuditResult:
        """Audit of the live nodes (cached per live set; an audit takes ~0.5 s on the built-in network)."""
        with self.lock:
            sc, key = self.live_scenario()
            if self._audit is None or self._audit[0] != key:
                if not any(n.status is NodeStatus.UP for n in sc.nodes):
                    raise ApiError(503, "audit: no node is live (every node is down, stale or pending)")
                self._audit = (key, audit_scenario(sc))
            return self._audit[1]

    def live_by_role(self) -> dict[str, int]:
        """Number of live nodes per role."""
        counts = {r.value: 0 for r in Role}
        for v in self.nodes():
            if v.live:
                for r in v.row.node.roles:
                    counts[r.value] += 1
        return counts

    # -- auth ----------------------------------------------------------------------------------------
    def authenticate(self, token: str, admin: HashedSecret | None) -> Principal | None:
        """The principal of bearer ``token``: admin, a node, or ``None`` when it matches nothing."""
        if admin is not None and verify_secret(token, admin):
            return Principal(PrincipalKind.ADMIN)
        parsed = parse_node_token(token)
        if parsed is None:
            return None
        with self.lock:
            rec = self.tokens.get(parsed[0])
        if rec is None or not verify_secret(parsed[1], rec[1]):
            return None
        return Principal(PrincipalKind.NODE, rec[0])

    # -- changes -------------------------------------------------------------------------------------
    def register(self, node: Node) -> NodeToken:
        """Add a node (validated against the scenario's models like a scenario file) and issue its token."""
        with self.lock:
            if node.id in self.rows:
                raise ApiError(409, f"id: node {node.id!r} is already registered (DELETE it first)")
            try:
                parse_scenario({**self.base, "nodes": [*(r.node for r in self.rows.values()), node]})
            except ScenarioError as exc:
                text = str(exc)
                head, _, rest = text.partition(": ")
                parts = head.split(".")
                if len(parts) >= 2 and parts[0] == "nodes" and parts[1].isdigit():
                    text = ".".join(parts[2:]) + ": " + rest if parts[2:] else rest
                raise ApiError(422, text) from None
            tok = new_node_token()
            hashed = hash_secret(tok.secret)
            now = self.clock()
            try:
                self.store.add_node(node, tok.token_id, hashed, now=now)
            except sqlite3.IntegrityError as exc:  # pragma: no cover - the id check above runs first
                raise ApiError(409, f"id: node {node.id!r} cannot be stored: {exc}") from None
            self.rows[node.id] = NodeRow(node, "registered", node.status, None, 0)
            self.tokens[tok.token_id] = (node.id, hashed)
            self._version += 1
            return tok

    def remove(self, node_id: str) -> None:
        """Delete a node and its token; 409 when the scenario would become invalid without it.

        E.g. the last node with a user dimension that ``failures`` or ``policy.independence`` names.
        Removing the very last node is allowed (routing then answers 503 until a node is registered).
        """
        with self.lock:
            self.node(node_id)
            rest = [r.node for r in self.rows.values() if r.node.id != node_id]
            if rest:
                try:
                    parse_scenario({**self.base, "nodes": rest})
                except ScenarioError as exc:
                    raise ApiError(
                        409, f"node: cannot remove {node_id!r}: without it the scenario is invalid ({exc})"
                    ) from None
            self.store.delete_node(node_id, now=self.clock())
            del self.rows[node_id]
            self.tokens = {k: v for k, v in self.tokens.items() if v[0] != node_id}
            self._version += 1

    def issue_token(self, node_id: str) -> NodeToken:
        """A new token for ``node_id`` (replacing its old one)."""
        with self.lock:
            self.node(node_id)
            tok = new_node_token()
            hashed = hash_secret(tok.secret)
            self.store.set_token(node_id, tok.token_id, hashed, now=self.clock())
            self.tokens = {k: v for k, v in self.tokens.items() if v[0] != node_id}
            self.tokens[tok.token_id] = (node_id, hashed)
            return tok

    def heartbeat(self, node_id: str) -> NodeView:
        """Record a heartbeat of ``node_id`` now."""
        with self.lock:
            row = self.node(node_id).row
            now = self.clock()
            self.store.heartbeat(node_id, now=now)
            self.rows[node_id] = replace(row, last_heartbeat=now, heartbeats=row.heartbeats + 1)
            return self._view(self.rows[node_id], now)

    def set_status(self, node_id: str, status: NodeStatus) -> NodeView:
        """Set the admin status of ``node_id`` (``down`` takes it out of routing until set ``up``)."""
        with self.lock:
            row = self.node(node_id).row
            now = self.clock()
            self.store.set_status(node_id, status, now=now)
            self.rows[node_id] = replace(row, status=status)
            return self._view(self.rows[node_id], now)
