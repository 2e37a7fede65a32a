"""SQLite persistence of the service: nodes, their registrations (token hashes) and an event log.

One file, WAL journal (readers never block the writer; a commit appends to the log instead of rewriting
pages), ``synchronous=NORMAL`` (a commit survives a crash of the process; the last commits before a power
loss may be lost, never corrupted). Every change is one ``BEGIN IMMEDIATE ... COMMIT`` transaction that
writes the row(s) and the event together, or nothing.

Tables::

    meta(key, value)                 scenario: the JSON of the scenario minus its nodes (models, sources,
                                     demand, failures, policy) the database was seeded from
    nodes(id, seq, spec, origin,     spec: the scenario Node fields as JSON; origin: scenario|registered;
          status, last_heartbeat,    status: up|down (set by the admin); last_heartbeat: epoch s or NULL;
          heartbeats, created_at)    heartbeats: how many were accepted
    registrations(token_id, node_id, salt, digest, issued_at)   one node token per node (hash only)
    events(seq, ts, kind, node_id, detail)                       append-only log

>>> import tempfile, os
>>> from nodeplan.scenario.io import load_builtin
>>> with tempfile.TemporaryDirectory() as d:
...     st = Store.open(os.path.join(d, "x.db"))
...     st.seed(load_builtin(), now=0.0)
...     n = len(st.load().nodes)
...     mode = st.journal_mode()
...     st.close()
>>> n > 40, mode
(True, 'wal')
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodeplan.scenario.io import dump_scenario
from nodeplan.scenario.model import Node, NodeStatus, Scenario
from nodeplan.service.auth import HashedSecret
from nodeplan.service.errors import ServiceError

__all__ = ["SCHEMA", "NodeRow", "Store", "StoredState", "TokenRow"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('scenario', 'registered')),
    status TEXT NOT NULL CHECK (status IN ('up', 'down')),
    last_heartbeat REAL,
    heartbeats INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS registrations (
    token_id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL UNIQUE REFERENCES nodes(id) ON DELETE CASCADE,
    salt BLOB NOT NULL,
    digest BLOB NOT NULL,
    issued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    node_id TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
"""


@dataclass(frozen=True)
class NodeRow:
    """One stored node: its spec, where it came from, the admin status and its heartbeat record."""

    node: Node
    origin: str
    status: NodeStatus
    last_heartbeat: float | None
    heartbeats: int


@dataclass(frozen=True)
class TokenRow:
    """One node token record (the secret itself is never stored)."""

    token_id: str
    node_id: str
    hashed: HashedSecret


@dataclass(frozen=True)
class StoredState:
    """Everything :meth:`Store.load` reads back: base scenario fields, nodes in order, tokens."""

    base: dict[str, Any]
    nodes: tuple[NodeRow, ...]
    tokens: tuple[TokenRow, ...]


class Store:
    """The SQLite file; thread-safe (one connection, writes serialised by a lock)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (or create) the database at ``path`` in WAL mode and create the tables.

        Raises
        ------
        ServiceError
            ``--db: cannot open <path>: <reason>`` when the file cannot be opened or created (missing
            directory, a directory, not an SQLite file, no permission).
        """
        p = Path(path)
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(p, isolation_level=None, check_same_thread=False, timeout=10.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise ServiceError(f"--db: cannot open {path}: {exc}") from None
        return cls(conn, p)

    def close(self) -> None:
        """Close the connection (checkpointing the WAL into the main file)."""
        with self._lock:
            self._conn.close()

    def journal_mode(self) -> str:
        """The journal mode SQLite reports (``wal``)."""
        with self._lock:
            return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @staticmethod
    def _event(c: sqlite3.Connection, ts: float, kind: str, node_id: str | None, **detail: Any) -> None:
        c.execute(
            "INSERT INTO events (ts, kind, node_id, detail) VALUES (?, ?, ?, ?)",
            (ts, kind, node_id, json.dumps(detail, sort_keys=True)),
        )

    # -- reads ----------------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        """True when the database has never been seeded."""
        with self._lock:
            return self._conn.execute("SELECT 1 FROM meta WHERE key = 'scenario'").fetchone() is None

    def load(self) -> StoredState:
        """Read the whole state back (nodes in registration order)."""
        with self._lock:
            c = self._conn
            row = c.execute("SELECT value FROM meta WHERE key = 'scenario'").fetchone()
            base = json.loads(row[0]) if row else {}
            nodes = tuple(
                NodeRow(Node.model_validate_json(spec), origin, NodeStatus(status), hb, count)
                for spec, origin, status, hb, count in c.execute(
                    "SELECT spec, origin, status, last_heartbeat, heartbeats FROM nodes ORDER BY seq"
                )
            )
            tokens = tuple(
                TokenRow(tid, nid, HashedSecret(bytes(salt), bytes(digest)))
                for tid, nid, salt, digest in c.execute(
                    "SELECT token_id, node_id, salt, digest FROM registrations ORDER BY issued_at"
                )
            )
        return StoredState(base, nodes, tokens)

    def events(self, limit: int = 100, kind: str | None = None) -> list[dict[str, Any]]:
        """The latest ``limit`` events, newest first (optionally of one ``kind``)."""
        sql = "SELECT seq, ts, kind, node_id, detail FROM events"
        args: tuple[Any, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            args = (kind,)
        sql += " ORDER BY seq DESC LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, (*args, limit)).fetchall()
        return [
            {"seq": s, "ts": ts, "kind": k, "node_id": n, "detail": json.loads(d)} for s, ts, k, n, d in rows
        ]

    # -- writes (each one transaction) ------------------------------------------------------------------
    def seed(self, scenario: Scenario, *, now: float) -> None:
        """Store ``scenario``: its non-node fields in ``meta`` and each node with origin ``scenario``."""
        base = dump_scenario(scenario)
        base.pop("nodes", None)
        base["name"] = scenario.name
        with self._tx() as c:
            c.execute("INSERT INTO meta (key, value) VALUES ('scenario', ?)", (json.dumps(base),))
            c.executemany(
                "INSERT INTO nodes (id, seq, spec, origin, status, created_at) VALUES (?, ?, ?, 'scenario', ?, ?)",
                [
                    (n.id, i, n.model_dump_json(exclude_defaults=True), n.status.value, now)
                    for i, n in enumerate(scenario.nodes)
                ],
            )
            self._event(c, now, "seed", None, scenario=scenario.name, nodes=len(scenario.nodes))

    def add_node(self, node: Node, token_id: str, hashed: HashedSecret, *, now: float) -> None:
        """Insert a registered node and its token hash (``sqlite3.IntegrityError`` if the id exists)."""
        with self._tx() as c:
            (seq,) = c.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM nodes").fetchone()
            c.execute(
                "INSERT INTO nodes (id, seq, spec, origin, status, created_at) VALUES (?, ?, ?, 'registered', ?, ?)",
                (node.id, seq, node.model_dump_json(exclude_defaults=True), node.status.value, now),
            )
            c.execute(
                "INSERT INTO registrations (token_id, node_id, salt, digest, issued_at) VALUES (?, ?, ?, ?, ?)",
                (token_id, node.id, hashed.salt, hashed.digest, now),
            )
            self._event(c, now, "register", node.id, token_id=token_id)

    def set_token(self, node_id: str, token_id: str, hashed: HashedSecret, *, now: float) -> None:
        """Issue (or replace) the token of ``node_id``."""
        with self._tx() as c:
            c.execute("DELETE FROM registrations WHERE node_id = ?", (node_id,))
            c.execute(
                "INSERT INTO registrations (token_id, node_id, salt, digest, issued_at) VALUES (?, ?, ?, ?, ?)",
                (token_id, node_id, hashed.salt, hashed.digest, now),
            )
            self._event(c, now, "token", node_id, token_id=token_id)

    def delete_node(self, node_id: str, *, now: float) -> None:
        """Remove a node and its registration."""
        with self._tx() as c:
            c.execute("DELETE FROM nodes WHERE id = ?", (node_id,))
            self._event(c, now, "remove", node_id)

    def heartbeat(self, node_id: str, *, now: float) -> None:
        """Record a heartbeat of ``node_id`` at ``now`` (epoch s)."""
        with self._tx() as c:
            c.execute(
                "UPDATE nodes SET last_heartbeat = ?, heartbeats = heartbeats + 1 WHERE id = ?",
                (now, node_id),
            )
            self._event(c, now, "heartbeat", node_id)

    def set_status(self, node_id: str, status: NodeStatus, *, now: float) -> None:
        """Set the admin status (``up``/``down``) of ``node_id``."""
        with self._tx() as c:
            c.execute("UPDATE nodes SET status = ? WHERE id = ?", (status.value, node_id))
            self._event(c, now, "status", node_id, status=status.value)
