"""Importers on the real node lists (counts and facts checked against the files) and on bad input."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodeplan.cli import main
from nodeplan.exceptions import DataImportError
from nodeplan.metrics.audit import audit_scenario
from nodeplan.scenario.importers import PRESETS, ColumnMapping, as_dimensions, import_nodes, resolve_mapping
from nodeplan.scenario.io import load_scenario
from nodeplan.scenario.model import NodeStatus, Role
from nodeplan.scenario.providers import provider_of_asn

from .datafiles import data_path

SOLANA = data_path("nodes/solana_validators_epoch860.csv")
ETHEREUM = data_path("nodes/ethereum_el_nodes_2025-11-22.csv")


@pytest.fixture(scope="module")
def solana():
    return import_nodes(SOLANA, "solana")


@pytest.fixture(scope="module")
def ethereum():
    return import_nodes(ETHEREUM, "ethereum")


@pytest.fixture(scope="module")
def eth_df() -> pd.DataFrame:
    return pd.read_csv(ETHEREUM, keep_default_na=False, dtype=str)


# --- Solana ------------------------------------------------------------------------------------------
def test_solana_counts(solana) -> None:
    assert solana.rows_read == 963  # data rows of the file (README: 963 validators)
    assert solana.rows_used + sum(solana.skipped.values()) == solana.rows_read
    # three validators have no coordinates (their data_center_key is 0--Unknown)
    assert solana.skipped == {"missing lat/lon": 3}
    assert solana.rows_used == len(solana.scenario.nodes) == 960


def test_solana_facts(solana) -> None:
    nodes = solana.scenario.nodes
    df = pd.read_csv(SOLANA, keep_default_na=False, dtype=str)
    kept = df[df.latitude != ""]
    # 39 distinct non-empty dc_country values among the rows with coordinates
    assert len({n.country for n in nodes if n.country}) == kept.dc_country.replace("", pd.NA).nunique() == 39
    # stake in SOL: lamports x 1e-9, exactly the file's sum over kept rows
    total = sum(n.stake for n in nodes)
    assert total == pytest.approx(kept.active_stake_lamports.astype(int).sum() * 1e-9, rel=1e-12)
    first = solana.scenario.node("6c6RrC9TWNgiVXnbZ6hehNuhyh81pZK1yAj5w2nXZTwi")
    assert first.stake == pytest.approx(32033.159813978)  # 32033159813978 lamports, first row
    assert (first.asn, first.country, first.operator, first.provider) == (
        395201,
        "DE",
        "Ivy Oracle",
        "allnodes",
    )
    # README/DESIGN: AS20326 (TeraSwitch) + AS396356 (Latitude.sh) hold about 43% of stake
    share = sum(n.stake for n in nodes if n.asn in (20326, 396356)) / total
    assert 0.42 < share < 0.45
    assert share == pytest.approx(0.4361, abs=5e-4)
    # delinquent validators are kept as down (8 rows say delinquent=True)
    assert sum(n.status is NodeStatus.DOWN for n in nodes) == int((df.delinquent == "True").sum()) == 8
    assert all(n.roles == frozenset({Role.COORDINATION}) for n in nodes)
    # AS0 rows and the 0--Unknown key are unknown, not provider "0"
    assert all(n.asn != 0 for n in nodes)
    assert not any(n.data_center == "0--Unknown" for n in nodes)


def test_solana_provider_shares(solana) -> None:
    nodes = solana.scenario.nodes
    total = sum(n.stake for n in nodes)
    by = Counter()
    for n in nodes:
        by[n.provider] += n.stake
    # Recomputed from the CSV with pandas, independently of the importer: stake by ASN over the rows the
    # importer keeps (those with coordinates). TeraSwitch is AS20326; Latitude.sh is AS396356 + AS262287;
    # AWS is AS16509 + AS14618.
    df = pd.read_csv(SOLANA, keep_default_na=False, dtype=str)
    df = df[df.latitude != ""]
    stake = df.active_stake_lamports.astype(float)
    by_asn = stake.groupby(df.autonomous_system_number).sum() / stake.sum()
    assert by["teraswitch"] / total == pytest.approx(by_asn["20326"], rel=1e-9)
    assert by["latitude-sh"] / total == pytest.approx(by_asn["396356"] + by_asn["262287"], rel=1e-9)
    assert by["aws"] / total == pytest.approx(by_asn["16509"] + by_asn["14618"], rel=1e-9)
    # The data README: "two ASNs (AS20326 TeraSwitch and AS396356) hold about 43% of stake".
    assert by_asn["20326"] + by_asn["396356"] == pytest.approx(0.43, abs=0.01)
    # every provider comes from the ASN table
    assert all(n.provider == provider_of_asn(n.asn) for n in nodes)


# --- Ethereum ----------------------------------------------------------------------------------------
def test_ethereum_counts(ethereum, eth_df) -> None:
    assert ethereum.rows_read == len(eth_df) == 17_356
    assert ethereum.rows_used == 17_356
    assert ethereum.skipped == {}
    nodes = ethereum.scenario.nodes
    assert len({n.country for n in nodes}) == eth_df.country_code.nunique() == 101
    # ids are prefix#k with k counting rows of the same /24
    assert len({n.id for n in nodes}) == len(nodes)
    repeats = eth_df.ip_prefix.value_counts()
    assert sum(n.id.endswith("#2") for n in nodes) == int((repeats >= 2).sum())
    assert max(int(n.id.rsplit("#", 1)[1]) for n in nodes) == int(repeats.max())


def test_ethereum_facts(ethereum, eth_df) -> None:
    nodes = ethereum.scenario.nodes
    # README: 56% of rows have hosting=t
    hosting = [n for n in nodes if n.attributes.get("hosting") is True]
    assert len(hosting) / len(nodes) == pytest.approx(0.5609, abs=5e-4)
    # README: 7.3% of rows have an empty org; their provider can only come from the ASN
    empty_org = eth_df.org == ""
    assert empty_org.mean() == pytest.approx(0.073, abs=1e-3)
    for n, no_org in zip(nodes, empty_org, strict=True):
        if no_org:
            assert n.provider == provider_of_asn(n.asn)
    # ASN "AS6752" -> 6752 (first row), and the 5 rows without an ASN stay unknown
    assert nodes[0].asn == 6752
    assert sum(n.asn is None for n in nodes) == int((eth_df.asn == "").sum()) == 5
    # cloud regions from the org string: 932 rows say 'AWS EC2 (us-east-1)'
    assert sum(n.provider_region == "us-east-1" for n in nodes) == int(
        (eth_df.org == "AWS EC2 (us-east-1)").sum()
    )
    assert all(n.provider == "aws" for n in nodes if n.provider_region == "us-east-1")


def test_ethereum_hosting_concentration(ethereum) -> None:
    # Published: three providers carry about 69% of cloud-hosted Ethereum nodes. Here, among hosting=t rows,
    # AWS + Hetzner + OVH carry two thirds.
    hosting = [n for n in ethereum.scenario.nodes if n.attributes.get("hosting") is True]
    by = Counter(n.provider for n in hosting)
    top3 = [p for p, _ in by.most_common(3)]
    assert top3 == ["aws", "hetzner", "ovh"]
    share = sum(by[p] for p in top3) / len(hosting)
    assert 0.60 < share < 0.72
    assert by["aws"] == 3089  # AS16509 (2,146 rows) + AS14618 (943 rows), all hosting=t


# --- flags are attributes, not failure domains (issue 8, point 6) -------------------------------------
FLAGS = {"jito", "doublezero", "hosting", "proxy", "mobile"}


def _flag_counts(col: pd.Series) -> dict[bool, int]:
    """True/False counts of a t/f or True/False column, straight from the CSV (blanks left out)."""
    low = col.str.strip().str.lower()
    return {True: int(low.isin(["t", "true"]).sum()), False: int(low.isin(["f", "false"]).sum())}


def _attr_counts(nodes, name: str) -> dict[bool, int]:
    c = Counter(n.attributes.get(name) for n in nodes)
    return {True: c[True], False: c[False]}


def test_solana_flags_are_attributes(solana) -> None:
    s = solana.scenario
    assert (solana.rows_read, solana.rows_used) == (963, 960)
    assert s.attribute_names() == ("doublezero", "jito")
    assert solana.flag_columns == ("doublezero", "jito")
    assert "software_version" in s.dimensions()  # a release is a real shared dependency
    assert not FLAGS & set(s.dimensions())
    assert not any(FLAGS & n.dims.keys() for n in s.nodes)
    kept = pd.read_csv(SOLANA, keep_default_na=False, dtype=str).query("latitude != ''")
    assert _attr_counts(s.nodes, "doublezero") == _flag_counts(kept.is_dz) == {True: 392, False: 568}
    assert _attr_counts(s.nodes, "jito") == _flag_counts(kept.jito) == {True: 908, False: 52}


def test_ethereum_flags_are_attributes(ethereum, eth_df) -> None:
    s = ethereum.scenario
    assert ethereum.rows_used == len(eth_df) == 17_356
    assert s.attribute_names() == ("hosting", "mobile", "proxy")
    assert s.dimensions()[-1] == "isp"
    assert not FLAGS & set(s.dimensions())
    for name in ("hosting", "mobile", "proxy"):
        assert _attr_counts(s.nodes, name) == _flag_counts(eth_df[name]), name
    assert _attr_counts(s.nodes, "hosting") == {True: 9735, False: 7621}  # README: 56% hosting=t


def test_audit_never_fails_or_measures_flags(solana, ethereum, eth_df) -> None:
    sol = audit_scenario(solana.scenario, "stake")
    eth = audit_scenario(ethereum.scenario, "count", roles=("all",))
    for res in (sol, eth):
        assert res.failure_rows
        assert not {r.dimension for r in res.failure_rows} & FLAGS
        assert not {m.dimension for m in res.measures} & FLAGS
        assert not any(FLAGS & set(x.dims) for x in res.summary)  # independence
        assert not {x.dimension for x in res.baseline_dominant} & FLAGS
    # shown instead: share of live nodes and stake per value, recomputed with pandas over the raw CSV
    df = pd.read_csv(SOLANA, keep_default_na=False, dtype=str)
    live = df[(df.latitude != "") & (df.delinquent != "True")]
    lam = live.active_stake_lamports.astype(float)
    dz = {a.name: a for a in sol.attributes}["doublezero"]
    assert (dz.flag, dz.distinct, dz.unknown_nodes) == (True, 2, 0)
    for v in dz.values:
        rows = live.is_dz == str(v.value)
        assert v.nodes == int(rows.sum())
        assert v.node_share == pytest.approx(rows.mean(), rel=1e-12)
        assert v.stake_share == pytest.approx(lam[rows].sum() / lam.sum(), rel=1e-9)
    assert {v.value: v.nodes for v in dz.values} == {True: 390, False: 562}
    hosting = {a.name: a for a in eth.attributes}["hosting"]
    assert {v.value: v.nodes for v in hosting.values} == _flag_counts(eth_df.hosting)
    assert all(v.stake_share is None for v in hosting.values)  # no stake in the Ethereum list


def test_dimension_opt_in_makes_a_flag_a_dimension_again() -> None:
    r = import_nodes(SOLANA, "solana", dimensions=["doublezero"])
    s = r.scenario
    assert "doublezero" in s.dimensions()
    assert s.attribute_names() == ("jito",)
    assert r.mapping.dims["doublezero"] == "is_dz"
    assert not any(n for n in r.notes if "doublezero" in n)  # named explicitly: no hint
    kept = pd.read_csv(SOLANA, keep_default_na=False, dtype=str).query("latitude != ''")
    # as a dimension it keeps the file's text, like any user dimension
    assert Counter(n.dims["doublezero"] for n in s.nodes) == Counter(kept.is_dz)
    res = audit_scenario(s, "stake")
    assert res.measure("doublezero").entities == 2
    # failed like any user dimension once the scenario names it in failures
    failing = s.model_copy(update={"failures": {"doublezero": {"default": 0.01}}})
    rows = {
        r.value: r.nodes for r in audit_scenario(failing, "stake").failure_rows if r.dimension == "doublezero"
    }
    live = kept[kept.delinquent != "True"]
    assert rows == dict(Counter(live.is_dz))


def test_flag_detection_spellings_blanks_and_text(tmp_path: Path) -> None:
    head = ["name", "lat", "lon", "a", "b", "c", "d"]
    rows = [
        ["n1", "1", "2", "T", "yes", "1", "x"],
        ["n2", "1", "2", "false", "No", "0", ""],
        ["n3", "1", "2", " ", "YES", "", "t"],
    ]
    p = _write(tmp_path, head, rows)
    m = ColumnMapping(
        name="m",
        columns={"id": "name", "lat": "lat", "lon": "lon"},
        attributes={"a": "a", "b": "b", "c": "c", "d": "d"},
    )
    r = import_nodes(p, m)
    got = [n.attributes for n in r.scenario.nodes]
    assert got == [
        {"a": True, "b": True, "c": True, "d": "x"},
        {"a": False, "b": False, "c": False},  # blank = unknown: left out
        {"b": True, "d": "t"},  # column d mixes text and flags: text
    ]
    assert r.flag_columns == ("a", "b", "c")
    assert r.scenario.dimensions()[-1] == "software_client"  # no user dimension at all


def test_flag_column_under_dims_is_kept_but_noted(tmp_path: Path) -> None:
    p = _write(tmp_path, ["name", "lat", "lon", "f"], [["n1", "1", "2", "t"], ["n2", "1", "2", "f"]])
    m = ColumnMapping(name="m", columns={"id": "name", "lat": "lat", "lon": "lon"}, dims={"flag": "f"})
    r = import_nodes(p, m)
    assert [n.dims for n in r.scenario.nodes] == [{"flag": "t"}, {"flag": "f"}]  # the user asked for it
    assert any(n.startswith("dimension flag (column f) holds only flag values") for n in r.notes)


def test_dimension_opt_in_errors() -> None:
    with pytest.raises(
        DataImportError,
        match=r"--dimension: 'asn' is not an attribute of mapping 'solana' "
        r"\(attributes: doublezero, jito\)",
    ):
        as_dimensions(PRESETS["solana"], ["asn"])
    assert as_dimensions(PRESETS["solana"], ["software_version"]) == PRESETS["solana"]  # already one
    with pytest.raises(DataImportError, match="'jito' is under both dims and attributes"):
        resolve_mapping("solana", dims={"jito": "jito"})


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_map_every_flag_column_as_an_attribute(preset: str) -> None:
    m = PRESETS[preset]
    assert not FLAGS & m.dims.keys()
    assert FLAGS & m.attributes.keys() == set(m.attributes)


# --- bad input ---------------------------------------------------------------------------------------
def _solana_header() -> list[str]:
    if not SOLANA.exists():
        m = PRESETS["solana"]
        return sorted(set(m.columns.values()) | set(m.dims.values()) | set(m.attributes.values()))
    with SOLANA.open(encoding="utf-8") as fh:
        return fh.readline().strip().split(",")


def _write(tmp_path: Path, header: list[str], rows: list[list[str]]) -> Path:
    p = tmp_path / "nodes.csv"
    with p.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return p


MINI = ColumnMapping(
    name="mini",
    columns={"id": "name", "lat": "lat", "lon": "lon", "stake": "stake", "asn": "asn", "country": "cc"},
)
HEAD = ["name", "lat", "lon", "stake", "asn", "cc"]


def test_unknown_preset() -> None:
    with pytest.raises(DataImportError, match=r"unknown preset 'cardano' \(presets: ethereum, solana"):
        import_nodes("whatever.csv", "cardano")


def test_missing_column(tmp_path: Path) -> None:
    p = _write(tmp_path, ["name", "lat", "stake", "asn", "cc"], [["a", "1", "2", "3", "US"]])
    with pytest.raises(DataImportError, match=r"column 'lon' \(mapped to 'lon'\) is not in the header") as e:
        import_nodes(p, MINI)
    assert "\n" not in str(e.value)


def test_bad_number_names_line_column_value(tmp_path: Path) -> None:
    p = _write(tmp_path, HEAD, [["a", "1", "2", "5", "AS7", "US"], ["b", "abc", "2", "5", "7", "US"]])
    with pytest.raises(DataImportError, match=r"line 3: column 'lat' \(lat\): not a number: 'abc'") as e:
        import_nodes(p, MINI)
    assert "\n" not in str(e.value)
    r = import_nodes(p, MINI, skip_bad_rows=True)
    assert (r.rows_read, r.rows_used, r.skipped) == (2, 1, {"bad lat": 1})
    assert r.scenario.nodes[0].asn == 7


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["a", "95", "2", "5", "7", "US"], r"'lat' \(lat\): outside \[-90, 90\]: '95'"),
        (["a", "1", "200", "5", "7", "US"], r"'lon' \(lon\): outside \[-180, 180\]"),
        (["a", "1", "2", "-5", "7", "US"], r"'stake' \(stake\): negative stake: '-5'"),
        (["a", "1", "2", "5", "ASX", "US"], r"'asn' \(asn\): not an AS number: 'ASX'"),
        (["a", "1", "2", "5", "7", "USA"], r"'cc' \(country\): not a two-letter ISO 3166 code: 'USA'"),
        (["a", "1", "2", "inf", "7", "US"], r"'stake' \(stake\): not a finite number"),
    ],
)
def test_bad_values(tmp_path: Path, row: list[str], message: str) -> None:
    p = _write(tmp_path, HEAD, [row])
    with pytest.raises(DataImportError, match=message):
        import_nodes(p, MINI)


def test_wrong_field_count_and_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("name,lat,lon,stake,asn,cc\na,1,2,3,4,US\nb,1,2\n", encoding="utf-8")
    with pytest.raises(DataImportError, match="line 3: expected 6 fields, got 3"):
        import_nodes(p, MINI)
    r = import_nodes(p, MINI, skip_bad_rows=True)
    assert r.skipped == {"wrong number of fields": 1}
    p.write_text("", encoding="utf-8")
    with pytest.raises(DataImportError, match="empty file"):
        import_nodes(p, MINI)
    with pytest.raises(DataImportError, match="file not found"):
        import_nodes(tmp_path / "nope.csv", MINI)


def test_no_usable_rows(tmp_path: Path) -> None:
    p = _write(tmp_path, HEAD, [["a", "", "", "1", "7", "US"]])
    with pytest.raises(DataImportError, match=r"no usable rows \(missing lat/lon: 1\)"):
        import_nodes(p, MINI)


def test_duplicate_ids_and_zero_stake(tmp_path: Path) -> None:
    rows = [["a", "1", "2", "5", "7", "US"], ["a", "1", "2", "5", "7", "US"], ["b", "1", "2", "0", "7", "US"]]
    p = _write(tmp_path, HEAD, rows)
    r = import_nodes(p, MINI)
    assert r.skipped == {"duplicate id": 1}
    assert [n.id for n in r.scenario.nodes] == ["a", "b"]
    r = import_nodes(p, MINI, skip_zero_stake=True, number_repeated_ids=True)
    assert r.skipped == {"zero stake": 1}
    assert [n.id for n in r.scenario.nodes] == ["a#1", "a#2"]


def test_bad_override_and_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(DataImportError, match="unknown option 'colour'"):
        resolve_mapping("solana", colour="red")
    with pytest.raises(DataImportError, match=r"columns: .*no column given for required field 'lat'"):
        resolve_mapping("solana", columns={"lon": "x"})
    m = tmp_path / "m.yaml"
    m.write_text("columns: {lat: y, lon: x, flavour: z}\n", encoding="utf-8")
    with pytest.raises(DataImportError, match="unknown node field 'flavour'"):
        resolve_mapping(str(m))


def test_mapping_file_roundtrip(tmp_path: Path) -> None:
    p = _write(tmp_path, ["x", "y", "net"], [["10", "20", "AS16509"], ["11", "21", "AS1"]])
    m = tmp_path / "mine.yaml"
    m.write_text("columns: {lat: y, lon: x, asn: net}\nroles: [storage]\nid_prefix: n-\n", encoding="utf-8")
    r = import_nodes(p, str(m))
    assert [n.id for n in r.scenario.nodes] == ["n-row2", "n-row3"]
    assert [n.provider for n in r.scenario.nodes] == ["aws", None]
    assert r.scenario.nodes[0].roles == frozenset({Role.STORAGE})
    assert r.scenario.name == "mine"


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.booleans(), st.booleans(), st.integers(0, 10**12)),
        min_size=1,
        max_size=30,
    )
)
def test_used_plus_skipped_is_read(tmp_path: Path, spec: list[tuple[bool, bool, bool, int]]) -> None:
    header = _solana_header()
    rows = []
    for k, (has_pos, active, delinquent, lamports) in enumerate(spec):
        row = dict.fromkeys(header, "")
        row.update(
            account=f"acc{k}",
            latitude="10.5" if has_pos else "",
            longitude="20.5" if has_pos else "",
            active_stake_lamports=str(lamports),
            is_active=str(active),
            delinquent=str(delinquent),
            autonomous_system_number="20326",
            dc_country="US",
        )
        rows.append([row[h] for h in header])
    p = _write(tmp_path, header, rows)
    if not any(a and pos for pos, a, _, _ in spec):
        with pytest.raises(DataImportError, match="no usable rows"):
            import_nodes(p, "solana")
        return
    r = import_nodes(p, "solana")
    assert r.rows_read == len(spec)
    assert r.rows_used + sum(r.skipped.values()) == r.rows_read
    assert r.skipped.get("inactive", 0) == sum(not a for _, a, _, _ in spec)
    assert r.skipped.get("missing lat/lon", 0) == sum(a and not pos for pos, a, _, _ in spec)
    down = sum(pos and a and d for pos, a, d, _ in spec)
    assert sum(n.status is NodeStatus.DOWN for n in r.scenario.nodes) == down
    assert sum(n.stake for n in r.scenario.nodes) == pytest.approx(
        sum(lam for pos, a, _, lam in spec if pos and a) * 1e-9
    )


# --- CLI ---------------------------------------------------------------------------------------------
def test_cli_import_solana(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "solana.json"
    assert main(["import", "solana", str(SOLANA), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "missing lat/lon" in text
    assert "teraswitch" in text
    assert "node status" in text  # delinquent -> status, is_active filters rows: neither is a dimension
    assert "row filter" in text
    s = load_scenario(out)
    assert len(s.nodes) == 960


def test_cli_import_lists_dimensions_and_attributes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, eth_df: pd.DataFrame
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # no wrapped cells
    assert main(["import", "ethereum", str(ETHEREUM), "-o", str(tmp_path / "eth.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    cells = [[c.strip() for c in ln.split("│")[1:-1]] for ln in lines if ln.count("│") == 5]
    row = {c[1]: c for c in cells}
    t = (eth_df.hosting == "t").mean()
    assert row["hosting"] == [
        "flag attribute",
        "hosting",
        "hosting",
        f"true {100 * t:.1f}%, false {100 * (1 - t):.1f}%",
    ]
    assert row["proxy"][0] == row["mobile"][0] == "flag attribute"
    assert row["isp"][:3] == ["user dimension", "isp", "isp"]
    assert row["asn"][:3] == ["dimension", "asn", "asn"]
    assert row["provider"][:3] == ["dimension", "provider", "(from asn, org)"]
    assert "not read: country, city, region_name, as_org, asname" in lines


def test_cli_dimension_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sol.json"
    assert main(["import", "solana", str(SOLANA), "-o", str(out), "--dimension", "doublezero"]) == 0
    assert "user dimension" in next(ln for ln in capsys.readouterr().out.splitlines() if "doublezero" in ln)
    s = load_scenario(out)
    assert "doublezero" in s.dimensions()
    assert s.attribute_names() == ("jito",)
    assert main(["import", "solana", str(SOLANA), "-o", str(out), "--dimension", "dz"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "error: --dimension: 'dz' is not an attribute of mapping 'solana' (attributes: doublezero, jito)"
    )
    # a --mapping file may move a preset attribute under dims, or a dimension under attributes
    over = tmp_path / "over.yaml"
    over.write_text("dims: {jito: jito}\nattributes: {version: software_version}\n", encoding="utf-8")
    assert main(["import", "solana", str(SOLANA), "-o", str(out), "--mapping", str(over)]) == 0
    s = load_scenario(out)
    assert "jito" in s.dimensions()
    assert s.attribute_names() == ("doublezero", "version")
    capsys.readouterr()
    # the audit reads a node list with the same opt-in
    assert main(["audit", "--nodes", str(SOLANA), "--preset", "solana", "--dimension", "jito", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "jito" in {m["dimension"] for m in data["measures"]}
    assert [a["name"] for a in data["attributes"]] == ["doublezero"]


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _write(tmp_path, HEAD, [["a", "1", "2", "5", "7", "US"]])
    assert main(["import", "cardano", str(p), "-o", str(tmp_path / "x.yaml")]) == 2
    err = capsys.readouterr().err
    assert "unknown preset 'cardano'" in err
    assert len(err.strip().splitlines()) == 1
    m = tmp_path / "over.yaml"
    m.write_text("colour: red\n", encoding="utf-8")
    assert main(["import", "solana", str(p), "-o", str(tmp_path / "x.yaml"), "--mapping", str(m)]) == 2
    assert "unknown key 'colour'" in capsys.readouterr().err
