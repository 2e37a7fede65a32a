"""Import real node lists (CSV) into a :class:`~nodeplan.scenario.model.Scenario`.

The columns are read as a :class:`~nodeplan.scenario.mapping.ColumnMapping` says (a mapping file, or one
of the presets ``solana`` and ``ethereum`` in :data:`~nodeplan.scenario.mapping.PRESETS`, described
there); the mapping names are re-exported here.

Columns under the mapping's ``dims`` become user dependency dimensions (``Node.dims``); columns under its
``attributes`` become ``Node.attributes`` (shown, never failure domains): booleans when every known value
of the column is a flag (``t``/``f``, ``true``/``false``, ``yes``/``no``, ``1``/``0``), text otherwise.
``import_nodes(..., dimensions=[...])`` imports named attributes as dimensions instead.

Rows that cannot be used are counted in :attr:`ImportResult.skipped` by reason (``missing lat/lon``,
``inactive``, ``duplicate id``, ...), never dropped silently. A value that is present but malformed
(``lat = abc``) raises :class:`~nodeplan.exceptions.DataImportError` naming the line, column and value,
unless ``skip_bad_rows=True``, which counts it as ``bad <field>`` instead.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nodeplan.exceptions import DataImportError
from nodeplan.scenario.mapping import (
    FLAG_VALUES,
    MAPPABLE_FIELDS,
    PRESETS,
    STRING_FIELDS,
    ColumnMapping,
    as_dimensions,
    load_mapping,
    load_overrides,
    resolve_mapping,
)
from nodeplan.scenario.model import Node, NodeStatus, Scenario
from nodeplan.scenario.providers import ProviderMap, default_provider_map

__all__ = [
    "FLAG_VALUES",
    "MAPPABLE_FIELDS",
    "PRESETS",
    "ColumnMapping",
    "ImportResult",
    "as_dimensions",
    "import_nodes",
    "load_mapping",
    "load_overrides",
    "resolve_mapping",
]

_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_nodes` produced.

    ``rows_used + sum(skipped.values()) == rows_read``; ``skipped`` maps a reason to a row count.
    ``mapping`` is the mapping as applied (after ``dimensions``): its ``dims`` became dependency
    dimensions, its ``attributes`` node attributes; ``flag_columns`` are the names (dimension or
    attribute) whose column holds only flag values; ``unused_columns`` are the CSV columns nothing read.
    """

    scenario: Scenario
    rows_read: int
    rows_used: int
    skipped: dict[str, int]
    notes: tuple[str, ...]
    mapping: ColumnMapping
    source: str
    flag_columns: tuple[str, ...] = ()
    unused_columns: tuple[str, ...] = ()


class _BadValueError(Exception):
    def __init__(self, field: str, reason: str, value: str) -> None:
        super().__init__(reason)
        self.field, self.reason, self.value = field, reason, value


def _float(field: str, raw: str) -> float:
    try:
        x = float(raw)
    except ValueError:
        raise _BadValueError(field, "not a number", raw) from None
    if not math.isfinite(x):
        raise _BadValueError(field, "not a finite number", raw)
    return x


def _asn(raw: str) -> int:
    s = raw.upper().removeprefix("AS")
    if not s.isdigit():
        raise _BadValueError("asn", "not an AS number", raw)
    return int(s)


class _Reader:
    """One pass over the rows: parse, count skips, build nodes."""

    def __init__(
        self,
        mapping: ColumnMapping,
        providers: ProviderMap,
        idx: Mapping[str, int],
        dim_idx: Mapping[str, int],
        attr_idx: Mapping[str, int],
        flags: frozenset[str],
    ) -> None:
        self.m = mapping
        self.idx = idx
        self.string_idx = tuple((f, idx[f]) for f in STRING_FIELDS if f in idx)
        self.dim_idx = tuple(dim_idx.items())
        self.attr_idx = tuple((a, j, a in flags) for a, j in attr_idx.items())
        self.providers = providers
        self.nulls = frozenset(mapping.null_values)
        self.skipped: Counter[str] = Counter()
        self.seen_ids: set[str] = set()
        self.id_counts: Counter[str] = Counter()
        self.asn_zero = 0
        self.region_re = (
            re.compile(mapping.provider_region_pattern) if mapping.provider_region_pattern else None
        )

    def _get(self, row: list[str], idx: int | None) -> str | None:
        if idx is None:
            return None
        v = row[idx].strip()
        return None if v.lower() in self.nulls else v

    def parse(self, row: list[str], line: int) -> Node | str:
        """A node, or the reason the row is skipped (raises :class:`_BadValueError`)."""
        m = self.m
        idx = self.idx
        g = self._get
        active = g(row, idx.get("active"))
        if active is not None and active.lower() in m.inactive_values:
            return "inactive"
        lat_s, lon_s = g(row, idx["lat"]), g(row, idx["lon"])
        if lat_s is None or lon_s is None:
            return "missing lat/lon"
        lat, lon = _float("lat", lat_s), _float("lon", lon_s)
        if not -90 <= lat <= 90:
            raise _BadValueError("lat", "outside [-90, 90]", lat_s)
        if not -180 <= lon <= 180:
            raise _BadValueError("lon", "outside [-180, 180]", lon_s)
        stake = 0.0
        if "stake" in idx:
            stake_s = g(row, idx["stake"])
            if stake_s is None:
                return "missing stake"
            stake = _float("stake", stake_s)
            if stake < 0:
                raise _BadValueError("stake", "negative stake", stake_s)
            stake *= m.stake_scale
            if stake == 0 and m.skip_zero_stake:
                return "zero stake"
        asn: int | None = None
        asn_s = g(row, idx.get("asn"))
        if asn_s is not None:
            asn = _asn(asn_s)
            if asn == 0:
                self.asn_zero += 1
                asn = None
        country = g(row, idx.get("country"))
        if country is not None and not _COUNTRY.match(country):
            raise _BadValueError("country", "not a two-letter ISO 3166 code", country)
        strings: dict[str, Any] = dict.fromkeys(STRING_FIELDS[:-1])
        for f, j in self.string_idx:
            strings[f] = g(row, j)
        org = strings.pop("org", None)
        if strings["provider"] is None and m.derive_provider:
            strings["provider"] = self.providers.of_asn(asn) or self.providers.of_org(org)
        if strings["provider_region"] is None and self.region_re is not None and org is not None:
            hit = self.region_re.search(org)
            if hit:
                strings["provider_region"] = hit.group(1)
        status = NodeStatus.UP
        status_s = g(row, idx.get("status"))
        if status_s is not None and status_s.lower() in m.down_values:
            status = NodeStatus.DOWN
        node_id = self._node_id(g(row, idx.get("id")), line)
        if node_id is None:
            return "missing id"
        if node_id in self.seen_ids:
            return "duplicate id"
        dims = {d: v for d, j in self.dim_idx if (v := g(row, j)) is not None}
        attrs: dict[str, bool | str] = {}
        for a, j, flag in self.attr_idx:
            v = g(row, j)
            if v is not None:
                attrs[a] = FLAG_VALUES[v.lower()] if flag else v
        extra = {k: v for k, v in strings.items() if v is not None}
        if asn is not None:
            extra["asn"] = asn
        if country is not None:
            extra["country"] = country
        if dims:
            extra["dims"] = dims
        if attrs:
            extra["attributes"] = attrs
        if status is not NodeStatus.UP:
            extra["status"] = status
        try:
            node = Node(id=node_id, lat=lat, lon=lon, roles=m.roles, stake=stake, **extra)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise _BadValueError(field, err["msg"], str(err.get("input"))) from None
        self.seen_ids.add(node_id)
        return node

    def _node_id(self, raw: str | None, line: int) -> str | None:
        m = self.m
        if "id" not in m.columns:
            return f"{m.id_prefix}row{line}"
        if raw is None:
            return None
        base = m.id_prefix + ("_".join(raw.split()) if _SPACE.search(raw) else raw)
        if m.number_repeated_ids:
            self.id_counts[base] += 1
            return f"{base}#{self.id_counts[base]}"
        return base


def _open_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, strict=True)
            try:
                header = next(reader, None)
                if header is None:
                    raise DataImportError(f"{path}: empty file (no header row)")
                rows = []
                for row in reader:
                    if row:
                        rows.append((reader.line_num, row))
            except csv.Error as exc:
                raise DataImportError(f"{path}: line {reader.line_num}: malformed CSV: {exc}") from None
    except FileNotFoundError:
        raise DataImportError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise DataImportError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DataImportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return [h.strip() for h in header], rows


def _column_index(header: list[str], wanted: Mapping[str, str], path: Path) -> dict[str, int]:
    out = {}
    for key, col in wanted.items():
        if col not in header:
            shown = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
            raise DataImportError(
                f"{path}: column {col!r} (mapped to {key!r}) is not in the header ({shown})"
            )
        out[key] = header.index(col)
    return out


def _flag_columns(
    rows: list[tuple[int, list[str]]], wanted: Mapping[str, int], nulls: frozenset[str]
) -> frozenset[str]:
    """Names in ``wanted`` whose column's known values (stripped, any case) are all in ``FLAG_VALUES``."""
    out = []
    for name, j in wanted.items():
        raw = {row[j] for _, row in rows if j < len(row)}  # few distinct values: normalise those only
        values = {v.strip().lower() for v in raw} - nulls
        if values and values <= FLAG_VALUES.keys():
            out.append(name)
    return frozenset(out)


def _nodes(k: int) -> str:
    return f"{k} node" if k == 1 else f"{k} nodes"


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole > 0 else "n/a"


def import_nodes(
    path: str | Path,
    mapping: ColumnMapping | str,
    *,
    providers: ProviderMap | None = None,
    name: str | None = None,
    dimensions: Iterable[str] = (),
    **overrides: Any,
) -> ImportResult:
    """Read a node-list CSV into a scenario of nodes (no models or demand).

    Parameters
    ----------
    path
        CSV file with a header row (UTF-8).
    mapping
        A :class:`ColumnMapping`, a preset name (``"solana"``, ``"ethereum"``) or a mapping YAML/JSON file.
    providers
        Provider mapping for ``derive_provider`` (default: the shipped ``providers.csv``).
    name
        Scenario name (default: the mapping name).
    dimensions
        Attributes of the mapping to import as user dimensions instead (:func:`as_dimensions`); flag
        columns imported this way keep their text (``True``/``False``, ``t``/``f``) as today's ``dims``.
    **overrides
        Attributes of :class:`ColumnMapping` to replace, e.g. ``skip_bad_rows=True``.

    Returns
    -------
    ImportResult
        The scenario, rows read/used, skipped rows by reason and notes.

    Raises
    ------
    DataImportError
        Unknown preset, unreadable or malformed file, a mapped column missing from the header, or a
        malformed value (one line naming the line, column and value) unless ``skip_bad_rows``; a name in
        ``dimensions`` that is not an attribute of the mapping.
    """
    named = tuple(dimensions)
    m = as_dimensions(resolve_mapping(mapping, **overrides), named)
    p = Path(path)
    header, rows = _open_rows(p)
    idx = _column_index(header, m.columns, p)
    dim_idx = _column_index(header, m.dims, p)
    attr_idx = _column_index(header, m.attributes, p)
    nulls = frozenset(m.null_values)
    flags = _flag_columns(rows, {**dim_idx, **attr_idx}, nulls)
    reader = _Reader(m, providers or default_provider_map(), idx, dim_idx, attr_idx, flags)
    nodes: list[Node] = []
    width = len(header)
    for line, row in rows:
        if len(row) != width:
            if not m.skip_bad_rows:
                raise DataImportError(
                    f"{p}: line {line}: expected {width} fields, got {len(row)}; fix the row or skip_bad_rows"
                )
            reader.skipped["wrong number of fields"] += 1
            continue
        try:
            got = reader.parse(row, line)
        except _BadValueError as bad:
            if not m.skip_bad_rows:
                col = m.columns.get(bad.field, bad.field)
                raise DataImportError(
                    f"{p}: line {line}: column {col!r} ({bad.field}): {bad.reason}: {bad.value!r} "
                    "(fix the value or pass skip_bad_rows / --skip-bad-rows)"
                ) from None
            reader.skipped[f"bad {bad.field}"] += 1
            continue
        if isinstance(got, str):
            reader.skipped[got] += 1
        else:
            nodes.append(got)
    skipped = dict(sorted(reader.skipped.items(), key=lambda kv: (-kv[1], kv[0])))
    if not nodes:
        why = ", ".join(f"{k}: {v}" for k, v in skipped.items()) or "no data rows"
        raise DataImportError(f"{p}: no usable rows ({why})")
    scenario = Scenario(
        name=name or m.name,
        description=f"{m.description or m.name} imported from {p.name} with nodeplan import".strip(),
        nodes=tuple(nodes),
    )
    return ImportResult(
        scenario=scenario,
        rows_read=len(rows),
        rows_used=len(nodes),
        skipped=skipped,
        notes=_notes(m, nodes, reader, flags - set(named)),
        mapping=m,
        source=str(p),
        flag_columns=tuple(sorted(flags)),
        unused_columns=tuple(
            c for c in header if c not in {*m.columns.values(), *m.dims.values(), *m.attributes.values()}
        ),
    )


def _notes(m: ColumnMapping, nodes: list[Node], reader: _Reader, flags: frozenset[str]) -> tuple[str, ...]:
    """What the summary says under its tables; ``flags``: flag columns not named with ``dimensions``."""
    notes: list[str] = []
    for d in sorted(flags & m.dims.keys()):  # a flag column under dims, not named with --dimension
        notes.append(
            f"dimension {d} (column {m.dims[d]}) holds only flag values, yet is a dependency dimension "
            "(measured like a provider); map it under attributes if it only describes the node"
        )
    total_stake = sum(n.stake for n in nodes)
    if "stake" in m.columns:
        unit = f" {m.stake_unit}" if m.stake_unit else ""
        scale = f" (column x {m.stake_scale:g})" if m.stake_scale != 1 else ""
        notes.append(f"stake in{unit or ' file units'}{scale}: total {total_stake:,.0f}{unit}")
    down = [n for n in nodes if n.status is NodeStatus.DOWN]
    if down:
        share = f", {_pct(sum(n.stake for n in down), total_stake)} of stake" if total_stake else ""
        notes.append(f"{_nodes(len(down))} kept with status down ({m.columns.get('status')}{share})")
    zero = sum(1 for n in nodes if n.stake == 0) if "stake" in m.columns else 0
    if zero:
        notes.append(f"{_nodes(zero)} kept with zero stake")
    if reader.asn_zero:
        notes.append(f"AS0 read as unknown ASN on {reader.asn_zero} rows")
    if m.derive_provider or "provider" in m.columns:
        known = [n for n in nodes if n.provider is not None]
        by_stake = f", {_pct(sum(n.stake for n in known), total_stake)} of stake" if total_stake else ""
        notes.append(
            f"provider known for {len(known)} of {len(nodes)} nodes ({_pct(len(known), len(nodes))}{by_stake})"
        )
    if m.number_repeated_ids:
        repeated = sum(1 for c in reader.id_counts.values() if c > 1)
        notes.append(
            f"ids numbered '#k' per {m.columns.get('id', 'row')}: {repeated} values occur more than once"
        )
    return tuple(notes)
