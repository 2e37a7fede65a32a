"""The audit on the two real node lists, against figures published by others.

Known answers from outside the package:

* Edinburgh Decentralization Index, Ethereum execution-layer nodes (``tests/data/metrics/
  edi_definitions.md``): countries Nakamoto 3, HHI 1298.3; organisations (first-word clustering)
  Nakamoto 6. Our list is another crawl (17,356 rows, 2025-11-22), so HHI is compared within 1%.
* Solana epoch 860 (``../shared/DESIGN.md``): TeraSwitch (AS20326) and Latitude.sh (AS396356) hold about
  43% of stake.
* validators.app client field: JitoLabs runs more than a third of Solana's stake, so its loss (a client
  bug) must halt BFT consensus.
* Plain sums over the CSV: losing the US (14.9% of stake) leaves 85% alive, so it does not halt; losing
  TeraSwitch (AS20326, 23.4% of stake) is harm, not 0.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from nodeplan.metrics.audit import audit_scenario
from nodeplan.scenario.importers import PRESETS, import_nodes

from .datafiles import data_path

ETH = data_path("nodes/ethereum_el_nodes_2025-11-22.csv")
SOL = data_path("nodes/solana_validators_epoch860.csv")


@pytest.fixture(scope="module")
def eth_audit():
    dims = {**PRESETS["ethereum"].dims, "org": "org"}  # keep the raw organisation as a user dimension
    scn = import_nodes(ETH, "ethereum", dims=dims).scenario
    return audit_scenario(scn, "count", roles=("all",), cluster=("org",), fail_dims=("provider",))


@pytest.fixture(scope="module")
def sol_audit():
    scn = import_nodes(SOL, "solana").scenario
    return audit_scenario(scn, "stake", roles=("coordination",))


def test_ethereum_countries_match_the_edi(eth_audit):
    m = eth_audit.measure("country")
    assert m.nakamoto_50 == 3
    assert m.hhi == pytest.approx(1298.3, rel=0.01)


def _naive_shares(path: Path, key: str, weight: str | None = None, lat: str = "lat") -> dict[str, float]:
    """Shares of ``key`` by row count or by ``weight`` (plain csv + dict, no package code).

    Only the rows the audit measures: live (not delinquent) and placed (the importer skips rows with no
    latitude: 3 Solana validators, 0 Ethereum rows).
    """
    tot: dict[str, float] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row.get("delinquent", "False") == "True" or not row[lat]:
                continue
            w = float(row[weight]) if weight else 1.0
            tot[row[key] or "unknown"] = tot.get(row[key] or "unknown", 0.0) + w
    total = sum(tot.values())
    return {k: v / total for k, v in tot.items()}


def test_ethereum_country_measures_agree_with_a_plain_count(eth_audit):
    shares = _naive_shares(ETH, "country_code")
    m = eth_audit.measure("country")
    assert m.entities == len(shares)
    assert m.hhi == pytest.approx(sum((100 * p) ** 2 for p in shares.values()), rel=1e-9)
    assert dict(m.top)["US"] == pytest.approx(shares["US"], rel=1e-9)  # EDI's own crawl: 28.2%


def test_ethereum_organisations_first_word_clustering_match_the_edi(eth_audit):
    m = eth_audit.measure("org")
    assert m.nakamoto_50 == 6
    names = [n for n, _ in m.top[:3]]
    assert "hetzner" in names  # the EDI's top organisation is among our top three


def test_solana_teraswitch_plus_latitude_hold_about_43_percent_of_stake(sol_audit):
    asn = dict(sol_audit.measure("asn", "coordination").top)
    assert asn["20326"] + asn["396356"] == pytest.approx(0.43, abs=0.01)
    # together above the BFT third, each alone below it
    assert asn["20326"] < 1 / 3
    assert asn["396356"] < 1 / 3


def test_solana_asn_and_client_shares_agree_with_a_plain_sum(sol_audit):
    asn = _naive_shares(SOL, "autonomous_system_number", "active_stake_lamports", "latitude")
    client = _naive_shares(SOL, "software_client", "active_stake_lamports", "latitude")
    got_asn = dict(sol_audit.measure("asn", "coordination").top)
    got_client = dict(sol_audit.measure("software_client", "coordination").top)
    assert got_asn["20326"] == pytest.approx(asn["20326"], rel=1e-9)
    assert got_asn["396356"] == pytest.approx(asn["396356"], rel=1e-9)
    assert got_client["JitoLabs"] == pytest.approx(client["JitoLabs"], rel=1e-9)


def _sol_row(sol_audit, dim, value):
    return next(r for r in sol_audit.failure_rows if r.dimension == dim and r.value == value)


def test_solana_jito_client_loss_halts_consensus(sol_audit):
    top = dict(sol_audit.measure("software_client", "coordination").top)
    assert top["JitoLabs"] > 1 / 3
    row = _sol_row(sol_audit, "software_client", "JitoLabs")
    assert row.stake_lost > 1 / 3
    assert row.alive_stake_share is not None
    assert row.alive_stake_share <= 2 / 3  # consensus halts
    assert row.halted is True
    assert row.harm >= 1.0 + row.stake_lost


def _plain_stake_lost(column: str, value: str) -> tuple[float, float]:
    """(stake on live rows with ``column == value``, stake of every row) from the CSV, no package code.

    The audit's total counts delinquent stake too (it is stake that cannot vote); rows without latitude
    are not imported, so they are left out of both sums.
    """
    lost = total = 0.0
    with SOL.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if not row["latitude"]:
                continue
            w = float(row["active_stake_lamports"])
            total += w
            if row.get("delinquent", "False") != "True" and row[column] == value:
                lost += w
    return lost, total


def test_solana_losing_the_us_does_not_halt_consensus(sol_audit):
    # The US hosts 14.9% of the stake: 85% stays alive, more than 2/3, so Tower BFT keeps voting.
    lost, total = _plain_stake_lost("dc_country", "US")
    row = _sol_row(sol_audit, "country", "US")
    assert row.stake_lost == pytest.approx(lost / total, rel=1e-9)
    assert row.stake_lost == pytest.approx(0.149, abs=0.001)
    assert row.alive_stake_share is not None
    assert row.alive_stake_share > 0.85
    assert row.halted is False


def test_solana_losing_teraswitch_is_harm(sol_audit):
    # AS20326 (TeraSwitch) holds 23.4% of the stake: consensus runs, but losing it is not harmless.
    lost, total = _plain_stake_lost("autonomous_system_number", "20326")
    row = _sol_row(sol_audit, "asn", "20326")
    assert row.stake_lost == pytest.approx(lost / total, rel=1e-9)
    assert row.stake_lost == pytest.approx(0.234, abs=0.001)
    assert row.halted is False
    assert row.harm > 0.2
    provider = _sol_row(sol_audit, "provider", "teraswitch")
    assert provider.harm > 0.2
