"""Plain-word reasons for a candidate's rank in ``nodeplan advise`` (first/only of its kind, biggest changes)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from nodeplan.placement.advise_state import ADVISE_ROLES, NetworkState, common_expected_ms, delta
from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.model import Node, NodeStatus, Role, VerificationMode

__all__ = ["CAPABILITIES", "capability_reason", "pct", "reasons"]

CAPABILITIES: tuple[tuple[str, str], ...] = (
    ("validator", "validator"),
    ("tee_verifier", "TEE-capable verifier"),
    ("zkml_prover", "zkML prover"),
    ("storage", "storage node"),
    ("reexec_verifier", "re-execution verifier"),
    ("tee_executor", "TEE executor"),
    ("executor", "executor"),
)


def _cap_masks(a: ScenarioArrays) -> dict[str, NDArray[np.bool_]]:
    ex = a.role(Role.EXECUTION) & (a.capacity > 0) & a.up
    ver = a.role(Role.VERIFICATION) & a.up
    return {
        "validator": a.role(Role.COORDINATION) & (a.stake > 0) & a.up,
        "tee_verifier": ver & a.mode(VerificationMode.TEE),
        "zkml_prover": ex & a.mode(VerificationMode.ZKML),
        "storage": a.role(Role.STORAGE) & a.stored.any(axis=1) & a.up,
        "reexec_verifier": ver & a.mode(VerificationMode.REEXEC),
        "tee_executor": ex & a.mode(VerificationMode.TEE),
        "executor": ex,
    }


def _node_caps(n: Node) -> list[str]:
    ex = Role.EXECUTION in n.roles and n.capacity > 0
    ver = Role.VERIFICATION in n.roles
    has = {
        "validator": Role.COORDINATION in n.roles and n.stake > 0,
        "tee_verifier": ver and VerificationMode.TEE in n.verification_modes,
        "zkml_prover": ex and VerificationMode.ZKML in n.verification_modes,
        "storage": Role.STORAGE in n.roles and bool(n.stored_models),
        "reexec_verifier": ver and VerificationMode.REEXEC in n.verification_modes,
        "tee_executor": ex and VerificationMode.TEE in n.verification_modes,
        "executor": ex,
    }
    return [k for k, _ in CAPABILITIES if has[k]] if n.status is NodeStatus.UP else []


def pct(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{100 * x:.0f}%" if abs(x) >= 0.1 or x == 0 else f"{100 * x:.1f}%"


def _halted_word(halted: bool | None) -> str:
    """``halts`` / ``runs`` (``n/a`` without stake): the *halted* fact of the consensus rule."""
    return "n/a" if halted is None else ("halts" if halted else "runs")


def _fragile_word(fragile: bool | None) -> str:
    """``fragile`` / ``not fragile`` (``n/a`` without stake): the *fragile* fact of the consensus rule."""
    return "n/a" if fragile is None else ("fragile" if fragile else "not fragile")


def _a(label: str) -> str:
    """``label`` with its indefinite article.

    >>> _a("executor"), _a("zkML prover")
    ('an executor', 'a zkML prover')
    """
    return f"{'an' if label[0] in 'aeio' else 'a'} {label}"


def _place(dim: str, v: str) -> str:
    return f"the {v}" if dim in ("jurisdiction", "country") and v in ("EU", "US", "UK") else v


def capability_reason(
    key: str, label: str, node: Node, a: ScenarioArrays, codes: NDArray[np.int32], remove: bool
) -> str:
    """One sentence on how ``node`` changes who provides capability ``key`` (first/only of its kind...)."""
    others = _cap_masks(a)[key].copy()
    if remove:
        others[a.node_ids.index(node.id)] = False
    if not others.any():
        return f"the only {label}" if remove else f"adds the first {label}"
    for dim in ("provider", "jurisdiction", "country"):
        k = a.dim_index(dim)
        vals = codes[others, k]
        mine = node.dim(dim)
        if remove:
            ci = codes[a.node_ids.index(node.id), k]
            mine = a.dim_values[k][ci] if ci >= 0 else None
        if mine is None or np.any(vals < 0):
            continue
        names = {a.dim_values[k][v] for v in vals}
        if len(names) == 1 and mine not in names:
            where = _place(dim, next(iter(names)))
            return (
                f"the only {label} outside {where}" if remove else f"adds the first {label} outside {where}"
            )
    k = a.dim_index("provider")
    vals = codes[others, k]
    known = vals[vals >= 0]
    prov = node.provider if not remove else None
    if remove:
        ci = codes[a.node_ids.index(node.id), k]
        prov = a.dim_values[k][ci] if ci >= 0 else None
    if prov is None or known.size == 0:
        return (
            f"one of {int(others.sum()) + (1 if remove else 0)} {label}s" if remove else f"adds {_a(label)}"
        )
    counts = np.bincount(known, minlength=len(a.dim_values[k]))
    top = int(np.argmax(counts))
    top_name, top_share = a.dim_values[k][top], counts[top] / others.sum()
    mine_count = int(counts[a.dim_values[k].index(prov)]) if prov in a.dim_values[k] else 0
    if remove:
        if mine_count == 0:
            return f"the only {label} on provider {prov}"
        return f"one of {mine_count + 1} {label}s on provider {prov}"
    if mine_count == 0:
        return f"adds {_a(label)} on a new provider ({prov}; {top_name} holds {pct(top_share)} of them)"
    share = mine_count / others.sum()
    if prov == top_name:
        return f"another {label} on provider {prov}, which already holds {pct(share)} of them"
    return f"adds {_a(label)} on provider {prov} ({pct(share)} of them today)"


def _metric_reason(name: str, b: NetworkState, a: NetworkState) -> str:
    roles = ADVISE_ROLES[1:]
    if name in ("domains", "providers", "asns", "operators"):
        table = (
            (b.domains, a.domains)
            if name == "domains"
            else (
                b.effective[{"providers": "provider", "asns": "asn", "operators": "operator"}[name]],
                a.effective[{"providers": "provider", "asns": "asn", "operators": "operator"}[name]],
            )
        )
        role = max(roles, key=lambda r: abs(delta(table[1][r], table[0][r])))
        what = (
            "independent failure domains"
            if name == "domains"
            else name.rstrip("s").replace("asn", "ASN") + "s"
        )
        x0, x1 = table[0][role], table[1][role]
        return f"effective {what} of {role} nodes {x0 or 0:.1f} -> {x1 or 0:.1f}"
    if name == "time":
        t0, t1 = common_expected_ms(b, a)
        both = "" if b.unroutable == a.unroutable == 0 else " (demand routable in both)"
        return f"demand-weighted expected time{both} {t0 or 0:,.0f} -> {t1 or 0:,.0f} ms"
    if name == "cost":
        return f"cost {b.cost_usd_per_hour:,.2f} -> {a.cost_usd_per_hour:,.2f} USD/h"
    if name in ("worst_domain_halted", "worst_domain_fragile", "worst_domain_stake"):
        tb, ta = b.tracked, a.tracked
        if tb is None or ta is None:
            return "the baseline's worst failure no longer exists"
        if name == "worst_domain_stake":
            return (
                f"losing {tb.failure}: stake alive {pct(tb.alive_stake)} -> {pct(ta.alive_stake)}; "
                "consensus needs more than 2/3"
            )
        if name == "worst_domain_halted":
            return f"losing {tb.failure}: consensus {_halted_word(tb.halted)} -> {_halted_word(ta.halted)}"
        return (
            f"losing {tb.failure}: consensus {_fragile_word(tb.fragile)} -> {_fragile_word(ta.fragile)} "
            "(fragile: one surviving domain holds 1/3 of the surviving stake)"
        )
    if name == "halting":
        return f"single failures that halt consensus {b.halting} -> {a.halting}"
    if name == "unreplicated":
        gone = sorted(set(a.unreplicated) - set(b.unreplicated)) or sorted(
            set(b.unreplicated) - set(a.unreplicated)
        )
        return f"models with no live storage replica {len(b.unreplicated)} -> {len(a.unreplicated)} ({', '.join(gone)})"
    if name == "worst_unreplicated":
        return (
            f"most models one failure leaves without a replica {b.worst_unreplicated} -> {a.worst_unreplicated}"
            f" (losing {a.worst_unreplicated_at or b.worst_unreplicated_at})"
        )
    text = {
        "served": ("demand served within SLO", b.served, a.served, ""),
        "verified": ("verified demand with an independent verifier", b.verified, a.verified, ""),
        "worst_served": ("worst-case served demand", b.worst_served, a.worst_served, a.worst_served_at),
        "worst_verified": (
            "worst-case verified demand",
            b.worst_verified,
            a.worst_verified,
            a.worst_verified_at,
        ),
        "worst_alive_stake": (
            "stake alive after the worst failure",
            b.worst_alive_stake,
            a.worst_alive_stake,
            a.worst_alive_stake_at,
        ),
    }[name]
    label, x0, x1, at = text
    tail = f" (losing {at})" if at else ""
    if name == "worst_alive_stake":
        tail += "; consensus needs more than 2/3"
    return f"{label} {pct(x0)} -> {pct(x1)}{tail}"


def reasons(
    node: Node,
    before: NetworkState,
    after: NetworkState,
    contrib: dict[str, float],
    a: ScenarioArrays,
    codes: NDArray[np.int32],
    remove: bool,
) -> tuple[str, ...]:
    out = [capability_reason(k, dict(CAPABILITIES)[k], node, a, codes, remove) for k in _node_caps(node)[:2]]
    out.extend(
        f"removing {node.id} leaves dimension {d!r} on no node: dropped from failures and "
        "policy.independence for this comparison"
        for d in after.dropped_dims
    )
    lost = [m for m in after.unroutable_models if m not in before.unroutable_models]
    won = [m for m in before.unroutable_models if m not in after.unroutable_models]
    share = f"{pct(abs(after.unroutable - before.unroutable))} of demand"
    if lost:
        out.append(f"{', '.join(lost)} can no longer be served (no route for {share})")
    if won:
        out.append(f"{', '.join(won)} can now be served (a route for {share} more)")
    tb, ta = before.tracked, after.tracked
    if (
        tb is not None
        and ta is not None
        and tb.verified is not None
        and abs(delta(ta.verified, tb.verified)) >= 0.005
    ):
        out.append(f"losing {tb.failure}: verified demand {pct(tb.verified)} -> {pct(ta.verified)}")
    big = sorted(
        (k for k, v in contrib.items() if abs(v) >= 0.005 and k != "unroutable"),
        key=lambda k: -abs(contrib[k]),
    )
    out.extend(_metric_reason(k, before, after) for k in big[:3])
    if not big and len(out) <= len(_node_caps(node)[:2]):
        out.append("changes none of the measures by more than 0.005 of score")
    return tuple(out)
