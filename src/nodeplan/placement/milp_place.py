r"""The warm-replica placement MILP (HiGHS) for a :class:`~nodeplan.placement.problem.PlacementProblem`.

Notation: models :math:`m`, nodes :math:`i`, clients :math:`c` (a demand class of model :math:`m(c)`
from one source) with rate :math:`r_c` (req/s), expected time :math:`t_{ci}` (ms), slot-seconds per
request :math:`b_{ci}` (s); :math:`A` the allowed (client, node) pairs (candidate, verification mode
supported, :math:`t_{ci} \le \mathrm{SLO}_c`); :math:`R = \sum_c r_c`.

Variables: :math:`y_{mi} \in \{0,1\}` (model warm on node), :math:`x_{ci} \in [0,1]` (share of the
client's requests sent to the node), :math:`z_i \in \{0,1\}` (node hosts a placed model; only with a
price weight or a budget), :math:`u_{mv} \in \{0,1\}` (a replica of :math:`m` sits in value :math:`v`
of a min-distinct rule's dimension).

.. math::

    \min \; \frac{1}{R} \sum_{(c,i) \in A} r_c t_{ci} x_{ci} + \lambda \sum_i p_i z_i

subject to

* assignment: :math:`\sum_i x_{ci} = 1` for each client; linking :math:`x_{ci} \le y_{m(c) i}`;
* replicas: :math:`\sum_i y_{mi} = K_m` (or, with a budget, free);
* memory: :math:`\sum_m g_m y_{mi} \le G_i` (GB left after the warm models not being placed);
* capacity: :math:`\sum_c r_c b_{ci} x_{ci} \le \rho \, s_i` (slot-seconds per second, :math:`\rho` =
  ``max_utilisation``, :math:`s_i` slots);
* price: :math:`y_{mi} \le z_i`, budget :math:`\sum_i p_i z_i \le B`;
* max share per value :math:`v` of a rule's dimension: :math:`\sum_{i \in v} q_{mi} y_{mi} \le \sigma
  \sum_i q_{mi} y_{mi}` with :math:`q = 1` (replicas) or the node's requests/s for the model (capacity);
* min distinct: :math:`u_{mv} \le \sum_{i \in v} y_{mi}`, :math:`\sum_v u_{mv} \ge k`.

Weights: the first term is the demand-weighted mean expected time in ms; :math:`\lambda`
(``price_weight_ms_per_usd_hour``) converts USD/hour of node price into ms, so :math:`\lambda = 10`
means "1 USD/hour is worth 10 ms of mean time". :math:`\lambda = 0` optimises latency alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nodeplan.placement._highs import MilpModel
from nodeplan.placement.problem import PlacementProblem, ShareOf

__all__ = ["FAMILIES", "PlacementMilp", "build_placement_milp"]

#: Constraint families that the infeasibility diagnosis relaxes one at a time, in this order.
FAMILIES: tuple[str, ...] = ("diversity", "capacity", "memory", "budget", "slo", "replicas")


@dataclass(frozen=True, eq=False)
class PlacementMilp:
    """The MILP and the maps from its columns back to the problem."""

    model: MilpModel
    pair_client: NDArray[np.int64]
    pair_node: NDArray[np.int64]
    y_model: NDArray[np.int64]
    y_node: NDArray[np.int64]
    y_col: NDArray[np.int64]
    z_node: NDArray[np.int64]
    z_col: NDArray[np.int64]


class _Rows:
    """Accumulates COO triplets and row bounds/names."""

    def __init__(self) -> None:
        self.r: list[NDArray[np.int64]] = []
        self.c: list[NDArray[np.int64]] = []
        self.v: list[NDArray[np.float64]] = []
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.names: list[str] = []

    def add(
        self, cols: NDArray[np.int64], vals: NDArray[np.float64], lb: float, ub: float, name: str
    ) -> None:
        k = len(self.lb)
        self.r.append(np.full(cols.size, k, dtype=np.int64))
        self.c.append(cols.astype(np.int64))
        self.v.append(np.asarray(vals, dtype=float))
        self.lb.append(lb)
        self.ub.append(ub)
        self.names.append(name)

    def add_many(
        self,
        rows_local: NDArray[np.int64],
        cols: NDArray[np.int64],
        vals: NDArray[np.float64],
        lb: NDArray[np.float64],
        ub: NDArray[np.float64],
        names: list[str],
    ) -> None:
        k = len(self.lb)
        self.r.append(rows_local.astype(np.int64) + k)
        self.c.append(cols.astype(np.int64))
        self.v.append(np.asarray(vals, dtype=float))
        self.lb.extend(lb.tolist())
        self.ub.extend(ub.tolist())
        self.names.extend(names)


def build_placement_milp(
    p: PlacementProblem,
    *,
    fix_open: NDArray[np.bool_] | None = None,
    drop: frozenset[str] = frozenset(),
) -> PlacementMilp:
    """Build the MILP of ``p`` (see the module docstring).

    Parameters
    ----------
    fix_open : (M, N) bool; when given, ``y`` is fixed to it (an LP in ``x``: evaluate a given placement)
    drop : constraint families of :data:`FAMILIES` to leave out (infeasibility diagnosis)
    """
    spec = p.spec
    n_models, n = p.candidate.shape
    allowed = p.allowed if "slo" not in drop else np.isfinite(p.time_ms)
    pc, pn = np.nonzero(allowed)
    k = pc.size
    ym, yn = np.nonzero(p.candidate)
    ny = ym.size
    y_col = np.full((n_models, n), -1, dtype=np.int64)
    y_col[ym, yn] = k + np.arange(ny)
    use_z = (
        spec.price_weight_ms_per_usd_hour > 0 or spec.budget_usd_per_hour is not None
    ) and fix_open is None
    z_node = np.flatnonzero(p.candidate.any(axis=0)) if use_z else np.zeros(0, dtype=np.int64)
    z_col = k + ny + np.arange(z_node.size)
    z_of = np.full(n, -1, dtype=np.int64)
    z_of[z_node] = z_col
    total = p.total_rps
    price = p.arrays.price_usd_per_hour
    cost = [
        p.rate_rps[pc] * p.time_ms[pc, pn] / total,
        np.zeros(ny),
        spec.price_weight_ms_per_usd_hour * price[z_node],
    ]
    lb = [np.zeros(k), np.zeros(ny), np.zeros(z_node.size)]
    ub = [np.ones(k), np.ones(ny), np.ones(z_node.size)]
    integer = [np.zeros(k, dtype=bool), np.ones(ny, dtype=bool), np.ones(z_node.size, dtype=bool)]
    if fix_open is not None:
        fixed = fix_open[ym, yn].astype(float)
        lb[1], ub[1] = fixed, fixed.copy()
    rows = _Rows()
    n_clients = p.client_model.size
    # assignment rows (one per client) and linking rows (one per pair)
    rows.add_many(pc, np.arange(k), np.ones(k), np.ones(n_clients), np.ones(n_clients), [""] * n_clients)
    loc = np.arange(k)
    rows.add_many(
        np.concatenate([loc, loc]),
        np.concatenate([np.arange(k), y_col[p.client_model[pc], pn]]),
        np.concatenate([np.ones(k), -np.ones(k)]),
        np.full(k, -np.inf),
        np.zeros(k),
        [""] * k,
    )
    ids = p.arrays.node_ids
    if fix_open is None and "replicas" not in drop:
        for mi, mid in enumerate(p.models):
            cols = y_col[mi, p.candidate[mi]]
            if p.replicas[mi] > 0:
                rows.add(
                    cols, np.ones(cols.size), float(p.replicas[mi]), float(p.replicas[mi]), f"replicas[{mid}]"
                )
            else:
                rows.add(cols, np.ones(cols.size), 1.0, np.inf, f"replicas[{mid}]")
    if fix_open is None and "memory" not in drop:
        for i in np.flatnonzero(p.candidate.sum(axis=0) > 1):
            ms = np.flatnonzero(p.candidate[:, i])
            rows.add(y_col[ms, i], p.size_gb[ms], -np.inf, float(p.free_gb[i]), f"memory[{ids[i]}]")
    if "capacity" not in drop:
        load = p.rate_rps[pc] * p.busy_s[pc, pn]
        nodes = np.unique(pn)
        local = np.searchsorted(nodes, pn)
        rows.add_many(
            local,
            np.arange(k),
            load,
            np.full(nodes.size, -np.inf),
            p.slots[nodes],
            [f"capacity[{ids[i]}]" for i in nodes],
        )
    if use_z:
        rows.add_many(
            np.concatenate([np.arange(ny), np.arange(ny)]),
            np.concatenate([k + np.arange(ny), z_of[yn]]),
            np.concatenate([np.ones(ny), -np.ones(ny)]),
            np.full(ny, -np.inf),
            np.zeros(ny),
            [""] * ny,
        )
        if spec.budget_usd_per_hour is not None and "budget" not in drop:
            rows.add(z_col, price[z_node], -np.inf, float(spec.budget_usd_per_hour), "budget")
    n_cols = k + ny + z_node.size
    extra_cost: list[float] = []
    if fix_open is None and "diversity" not in drop:
        for r, rule in enumerate(spec.rules):
            g, gname = p.group[r], p.group_names[r]
            for mi, mid in enumerate(p.models):
                cand = np.flatnonzero(p.candidate[mi])
                cols = y_col[mi, cand]
                q = np.ones(cand.size) if rule.share_of is ShareOf.REPLICAS else p.model_rps[mi, cand]
                for v in np.unique(g[cand]):
                    inside = g[cand] == v
                    if rule.max_share is not None and rule.max_share < 1.0:
                        coef = q * (inside.astype(float) - rule.max_share)
                        rows.add(cols, coef, -np.inf, 0.0, f"max_share[{mid}: {rule.dim}={gname[v]}]")
                if rule.min_distinct is not None:
                    vals = np.unique(g[cand])
                    u0 = n_cols + len(extra_cost)
                    extra_cost.extend([0.0] * vals.size)
                    for t, v in enumerate(vals):
                        members = cols[g[cand] == v]
                        rows.add(
                            np.concatenate([[u0 + t], members]),
                            np.concatenate([[1.0], -np.ones(members.size)]),
                            -np.inf,
                            0.0,
                            "",
                        )
                    rows.add(
                        u0 + np.arange(vals.size),
                        np.ones(vals.size),
                        float(rule.min_distinct),
                        np.inf,
                        f"min_distinct[{mid}: {rule.dim}]",
                    )
    nu = len(extra_cost)
    model = MilpModel(
        c=np.concatenate([*cost, np.zeros(nu)]),
        lb=np.concatenate([*lb, np.zeros(nu)]),
        ub=np.concatenate([*ub, np.ones(nu)]),
        integer=np.concatenate([*integer, np.ones(nu, dtype=bool)]),
        rows=np.concatenate(rows.r),
        cols=np.concatenate(rows.c),
        vals=np.concatenate(rows.v),
        row_lb=np.array(rows.lb, dtype=float),
        row_ub=np.array(rows.ub, dtype=float),
        row_names=tuple(rows.names),
    )
    return PlacementMilp(
        model=model,
        pair_client=pc.astype(np.int64),
        pair_node=pn.astype(np.int64),
        y_model=ym.astype(np.int64),
        y_node=yn.astype(np.int64),
        y_col=(k + np.arange(ny)).astype(np.int64),
        z_node=z_node.astype(np.int64),
        z_col=z_col.astype(np.int64),
    )
