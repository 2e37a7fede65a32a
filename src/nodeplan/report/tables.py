"""Rich terminal tables of an audit: apparent vs effective summary, measures per dimension, failures."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from nodeplan.metrics.audit import ALL_ROLES, AuditResult

__all__ = ["failure_table_view", "measures_table", "print_audit", "summary_table"]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, nd: int = 1) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def summary_table(result: AuditResult) -> Table:
    """Apparent (countries, locations) vs effective (independent domains, providers) spread per role."""
    t = Table(title="Apparent vs effective decentralization", title_justify="left")
    for col in (
        "role",
        "live nodes",
        "countries",
        "locations",
        "eff. independent domains",
        "eff. providers",
        "largest provider",
        "Nakamoto 1/3 (provider)",
    ):
        t.add_column(col, justify="left" if col == "role" else "right")
    for s in result.summary:
        prov = next(
            (m.measures for m in result.measures if m.dimension == "provider" and m.role == s.role), None
        )
        known = [(n, x) for n, x in (prov.top if prov else ()) if not n.startswith("unknown")]
        top = f"{known[0][0]} {_pct(known[0][1])}" if known else "–"
        t.add_row(
            s.role,
            str(s.nodes),
            str(s.countries),
            str(s.locations),
            _num(s.effective_domains),
            _num(None if prov is None else prov.effective_hhi),
            top,
            "–" if prov is None or prov.nakamoto_33 is None else str(prov.nakamoto_33),
        )
    return t


def measures_table(result: AuditResult, role: str = ALL_ROLES) -> Table:
    """Every measure of every dimension for ``role`` (HHI on the 0..10000 scale; shares in %)."""
    t = Table(
        title=f"Concentration by dimension (role {role}, weight {result.weight.value})", title_justify="left"
    )
    for col in (
        "dimension",
        "entities",
        "N 50%",
        "N 1/3",
        "HHI",
        "eff 1/HHI",
        "eff 2^H",
        "H norm",
        "Gini",
        "Theil",
        "top-1",
        "top-3",
        "unknown",
    ):
        t.add_column(col, justify="left" if col in ("dimension", "top-1") else "right")
    for dm in result.measures:
        if dm.role != role:
            continue
        m = dm.measures
        top1 = "–" if not m.top else f"{m.top[0][0]} {_pct(m.top[0][1])}"
        t.add_row(
            dm.dimension,
            str(m.entities),
            str(m.nakamoto_50 or "–"),
            str(m.nakamoto_33 or "–"),
            _num(m.hhi, 0),
            _num(m.effective_hhi),
            _num(m.effective_entropy),
            _num(m.entropy_norm, 2),
            _num(m.gini, 2),
            _num(m.theil, 2),
            top1,
            _pct(m.top3_share),
            _pct(m.unknown_share),
        )
    return t


def failure_table_view(result: AuditResult, limit: int = 15) -> Table:
    """The ``limit`` worst single-domain failures (columns without data are left out)."""
    rows = result.failure_rows[:limit]
    base = result.baseline
    t = Table(
        title=f"Single-domain failures, worst {len(rows)} of {len(result.failure_rows)} by harm",
        title_justify="left",
    )
    cols: list[tuple[str, list[str]]] = [
        ("dimension", [r.dimension for r in rows]),
        ("value", [r.value for r in rows]),
        ("nodes", [str(r.nodes) for r in rows]),
        (f"{result.weight.value} lost", [_pct(r.share_lost) for r in rows]),
    ]
    if any(r.capacity_lost for r in result.failure_rows) and result.weight.value != "capacity":
        cols.append(("capacity lost", [_pct(r.capacity_lost) for r in rows]))
    if any(r.stake_lost for r in result.failure_rows) and result.weight.value != "stake":
        cols.append(("stake lost", [_pct(r.stake_lost) for r in rows]))
    if base.demand_served is not None:
        cols.append(
            (f"served in SLO (base {_pct(base.demand_served)})", [_pct(r.demand_served) for r in rows])
        )
    if base.verified is not None:
        cols.append((f"indep. verified (base {_pct(base.verified)})", [_pct(r.verified) for r in rows]))
    if any(r.models_unreplicated for r in result.failure_rows):
        cols.append(("models w/o replica", [", ".join(r.models_unreplicated) or "–" for r in rows]))
    if any(r.quorum is not None for r in rows):
        cols.append(("quorum", ["–" if r.quorum is None else ("kept" if r.quorum else "LOST") for r in rows]))
        cols.append(("largest surviving", [_pct(r.largest_surviving_share) for r in rows]))
    cols.append(("harm", [f"{r.harm:.2f}" for r in rows]))
    for name, _ in cols:
        t.add_column(
            name, justify="left" if name in ("dimension", "value", "models w/o replica") else "right"
        )
    for i in range(len(rows)):
        t.add_row(*(vals[i] for _, vals in cols))
    return t


def print_audit(
    result: AuditResult, console: Console | None = None, *, role: str | None = None, limit: int = 15
) -> None:
    """Print the headline and the three tables."""
    c = console or Console()
    main = role or (result.roles[0] if result.roles else ALL_ROLES)
    notes = []
    if result.empty_dimensions:
        notes.append(f"no data for: {', '.join(result.empty_dimensions)}")
    if result.clustered_dimensions:
        notes.append(f"clustered by first word: {', '.join(result.clustered_dimensions)}")
    if result.derived_providers:
        n = sum(k for _, k in result.derived_providers)
        which = ", ".join(f"{p} {k}" for p, k in result.derived_providers[:5])
        more = ", ..." if len(result.derived_providers) > 5 else ""
        notes.append(f"provider derived from ASN for {n} node{'s' * (n != 1)} ({which}{more})")
    c.print(
        Group(
            Text(result.headline, style="bold"),
            Text(
                f"scenario {result.scenario}: {result.live_nodes} of {result.nodes} nodes live; weight "
                f"{result.weight.value}; unknown values: {result.unknown_policy.value}"
                + ("; " + "; ".join(notes) if notes else ""),
                style="dim",
            ),
            summary_table(result),
            measures_table(result, main),
            failure_table_view(result, limit),
        )
    )
