"""Prometheus metrics in the text exposition format (version 0.0.4), rendered without a client library.

* ``nodeplan_http_requests_total{endpoint, method, status}``: counter of answered requests; ``endpoint``
  is the route template (``/v1/nodes/{node_id}/heartbeat``), so node ids do not explode the label set;
* ``nodeplan_route_seconds``: histogram of the time ``route()`` takes inside ``POST /v1/route``, s;
* ``nodeplan_live_nodes{role}``: live nodes per role (a node with two roles counts in both);
* ``nodeplan_nodes{liveness}``: nodes per liveness (live, static, stale, pending, down);
* ``nodeplan_heartbeat_age_seconds{node}``: seconds since each node's last heartbeat (nodes that sent one);
* ``nodeplan_stale_after_seconds``: the staleness limit.

>>> m = Metrics()
>>> m.count_request("/healthz", "GET", 200); m.observe_route(0.002)
>>> text = m.render_requests()
>>> 'nodeplan_http_requests_total{endpoint="/healthz",method="GET",status="200"} 1' in text
True
>>> 'nodeplan_route_seconds_bucket{le="0.0025"} 1' in text
True
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterable

__all__ = ["CONTENT_TYPE", "ROUTE_BUCKETS_S", "Metrics", "escape_label"]

#: Content type of the text exposition format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Upper bounds of the route-time histogram, s (one route on ~50 nodes takes ~0.1-1 ms).
ROUTE_BUCKETS_S: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
)


def escape_label(value: str) -> str:
    r"""Escape a label value (backslash, double quote, newline) as the format requires.

    >>> escape_label('a"b\\c')
    'a\\"b\\\\c'
    """
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in pairs) + "}"


def _num(x: float) -> str:
    return repr(float(x)) if not float(x).is_integer() else str(int(x))


class Metrics:
    """Request counter and route-time histogram (thread-safe); gauges are passed in at render time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, int]] = Counter()
        self._buckets = [0] * (len(ROUTE_BUCKETS_S) + 1)  # last = +Inf only
        self._sum = 0.0
        self._count = 0

    def count_request(self, endpoint: str, method: str, status: int) -> None:
        """Count one answered request."""
        with self._lock:
            self._requests[(endpoint, method, status)] += 1

    def observe_route(self, seconds: float) -> None:
        """Record how long one ``route()`` call took, s."""
        with self._lock:
            self._buckets[bisect.bisect_left(ROUTE_BUCKETS_S, seconds)] += 1
            self._sum += seconds
            self._count += 1

    def requests(self) -> dict[tuple[str, str, int], int]:
        """A copy of the request counter."""
        with self._lock:
            return dict(self._requests)

    def render_requests(self) -> str:
        """The counter and the histogram in the exposition format."""
        with self._lock:
            reqs = sorted(self._requests.items())
            buckets, total, count = list(self._buckets), self._sum, self._count
        out = [
            "# HELP nodeplan_http_requests_total HTTP requests answered, by endpoint template, method and status.",
            "# TYPE nodeplan_http_requests_total counter",
        ]
        out += [
            f"nodeplan_http_requests_total{_labels([('endpoint', e), ('method', m), ('status', str(s))])} {n}"
            for (e, m, s), n in reqs
        ]
        out += [
            "# HELP nodeplan_route_seconds Time of one route() call in POST /v1/route, seconds.",
            "# TYPE nodeplan_route_seconds histogram",
        ]
        cum = 0
        for le, c in zip(ROUTE_BUCKETS_S, buckets, strict=False):
            cum += c
            out.append(f'nodeplan_route_seconds_bucket{{le="{le}"}} {cum}')
        out.append(f'nodeplan_route_seconds_bucket{{le="+Inf"}} {count}')
        out.append(f"nodeplan_route_seconds_sum {_num(total)}")
        out.append(f"nodeplan_route_seconds_count {count}")
        return "\n".join(out) + "\n"

    def render(
        self,
        live_by_role: dict[str, int],
        by_liveness: dict[str, int],
        heartbeat_age_s: dict[str, float],
        stale_after_s: float,
    ) -> str:
        """Everything: counter, histogram and the gauges of the live state given."""
        out = [self.render_requests().rstrip("\n")]
        out += ["# HELP nodeplan_live_nodes Live nodes by role.", "# TYPE nodeplan_live_nodes gauge"]
        out += [f"nodeplan_live_nodes{_labels([('role', r)])} {n}" for r, n in sorted(live_by_role.items())]
        out += ["# HELP nodeplan_nodes Nodes by liveness.", "# TYPE nodeplan_nodes gauge"]
        out += [f"nodeplan_nodes{_labels([('liveness', k)])} {n}" for k, n in sorted(by_liveness.items())]
        out += [
            "# HELP nodeplan_heartbeat_age_seconds Seconds since the node's last heartbeat.",
            "# TYPE nodeplan_heartbeat_age_seconds gauge",
        ]
        out += [
            f"nodeplan_heartbeat_age_seconds{_labels([('node', k)])} {_num(v)}"
            for k, v in sorted(heartbeat_age_s.items())
        ]
        out += [
            "# HELP nodeplan_stale_after_seconds A node whose last heartbeat is older is treated as down.",
            "# TYPE nodeplan_stale_after_seconds gauge",
            f"nodeplan_stale_after_seconds {_num(stale_after_s)}",
        ]
        return "\n".join(out) + "\n"
