"""Which CSV column feeds which node field: :class:`ColumnMapping`, its loaders and the presets.

A :class:`ColumnMapping` says which CSV column feeds which :class:`~nodeplan.scenario.model.Node` field,
which roles every imported node gets and how values are parsed (the reading itself is
:func:`~nodeplan.scenario.importers.import_nodes`). Two presets ship in :data:`PRESETS`:

``solana``
    Solana validators (validators.app export, e.g. ``solana_validators_epoch860.csv``): coordination nodes
    weighted by stake. Stake is read in lamports and stored in SOL (x 1e-9). ``id`` = identity account,
    ``operator`` = validator name (empty names -> unknown), ``data_center`` = ``data_center_key``,
    provider derived from the ASN. **Delinquent** validators are *kept* with status ``down`` (they are
    in the validator set but not voting, so an audit must see them as already failed); rows with
    ``is_active`` false are skipped as ``inactive``; zero-stake rows are kept (they count by node number,
    not by stake). AS0 and the key ``0--Unknown`` mean "unknown". ``software_version`` is a user
    dimension (a bug in one release takes down every validator running it); the ``jito`` and
    ``is_dz`` (``doublezero``) flags are attributes.
``ethereum``
    Ethereum execution-layer nodes as /24 prefixes (``ethereum_el_nodes_*.csv``): coordination nodes with
    no stake (measures are by node count). Several rows share one prefix, so ``id`` = prefix + ``#k``
    (k-th row of that prefix). ``asn`` like ``AS6752``; provider from the ASN, then from ``org``;
    ``provider_region`` from cloud org strings such as ``AWS EC2 (us-east-1)``; ``isp`` is a user
    dimension; the ``hosting``, ``proxy``, ``mobile`` flags (``t``/``f``) are attributes.

**Dimensions and attributes.** A column under ``dims`` becomes a user dependency dimension (a failure
domain, like ``provider``); a column under ``attributes`` describes the node and is never failed or
measured as a domain. An attribute column whose values are all flags (:data:`FLAG_VALUES`, e.g.
``t``/``f``, ``True``/``False``, ``yes``/``no``, ``1``/``0``, any case, blanks = unknown) is read as
booleans; other attribute columns as text. :func:`as_dimensions` (``nodeplan import --dimension NAME``)
turns named attributes into dimensions: the user's explicit opt-in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nodeplan.exceptions import DataImportError
from nodeplan.scenario.model import DEPENDENCY_DIMENSIONS, Role

__all__ = [
    "FLAG_VALUES",
    "MAPPABLE_FIELDS",
    "PRESETS",
    "STRING_FIELDS",
    "ColumnMapping",
    "as_dimensions",
    "load_mapping",
    "load_overrides",
    "resolve_mapping",
]

#: CSV-fed :class:`~nodeplan.scenario.model.Node` fields whose value is kept as a string (``org`` only
#: feeds provider derivation).
STRING_FIELDS: tuple[str, ...] = (
    "data_center",
    "operator",
    "software_client",
    "provider",
    "provider_region",
    "jurisdiction",
    "tee_vendor",
    "org",
)
#: Flag values (lower-case, after stripping) and the boolean each means. A column whose known values are all
#: flags is a flag column: as an attribute it is read as booleans.
FLAG_VALUES: dict[str, bool] = {
    "t": True,
    "true": True,
    "yes": True,
    "1": True,
    "f": False,
    "false": False,
    "no": False,
    "0": False,
}
#: Keys allowed in :attr:`ColumnMapping.columns`. ``org`` only feeds provider derivation; ``status``
#: marks a node down (see ``down_values``); ``active`` drops the row (see ``inactive_values``).
MAPPABLE_FIELDS: tuple[str, ...] = (
    "id",
    "lat",
    "lon",
    "stake",
    "asn",
    "country",
    *STRING_FIELDS,
    "status",
    "active",
)


class ColumnMapping(BaseModel):
    """How the columns of a node-list CSV become :class:`Node` fields (load one from YAML with
    :func:`load_mapping`).

    Attributes
    ----------
    name
        Preset or mapping name; also the default scenario name.
    columns
        Node field (one of :data:`MAPPABLE_FIELDS`) -> CSV column. ``lat`` and ``lon`` are required;
        without ``id`` nodes are named ``<id_prefix>row<line>``.
    dims
        User dimension name -> CSV column (stored in ``Node.dims``): failure and trust domains.
    attributes
        Attribute name -> CSV column (stored in ``Node.attributes``): shown, never failed or measured as
        domains. Flag columns (all values in :data:`FLAG_VALUES`) are read as booleans, others as text.
    roles
        Roles every imported node gets.
    id_prefix
        Prepended to every node id.
    number_repeated_ids
        Append ``#k`` (k-th occurrence, from 1) to each id, for files whose id column repeats.
    stake_scale, stake_unit
        ``stake = value * stake_scale``; ``stake_unit`` names the result (e.g. ``SOL``).
    derive_provider
        Fill ``provider`` from the ASN, then from ``org``, with the shipped provider mapping.
    provider_region_pattern
        Regex with one group, searched in ``org``: the group becomes ``provider_region``.
    down_values, inactive_values
        Values (case-insensitive) of the ``status`` column that mean "down", and of the ``active`` column
        that mean "not in the set" (row skipped as ``inactive``).
    skip_zero_stake
        Skip rows with stake 0 (reason ``zero stake``) instead of keeping them.
    null_values
        Values (case-insensitive, after stripping) read as "unknown".
    skip_bad_rows
        Count malformed values as ``bad <field>`` skips instead of raising.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="custom", min_length=1)
    description: str = ""
    columns: dict[str, str]
    dims: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, str] = Field(default_factory=dict)
    roles: frozenset[Role] = Field(default=frozenset({Role.COORDINATION}), min_length=1)
    id_prefix: str = ""
    number_repeated_ids: bool = False
    stake_scale: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    stake_unit: str = ""
    derive_provider: bool = True
    provider_region_pattern: str | None = None
    down_values: tuple[str, ...] = ()
    inactive_values: tuple[str, ...] = ()
    skip_zero_stake: bool = False
    null_values: tuple[str, ...] = ("", "unknown", "nan", "null", "none", "n/a", "-")
    skip_bad_rows: bool = False

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if key not in MAPPABLE_FIELDS:
                raise ValueError(f"unknown node field {key!r} (mappable: {', '.join(MAPPABLE_FIELDS)})")
        for key in ("lat", "lon"):
            if key not in v:
                raise ValueError(f"no column given for required field {key!r}")
        return v

    @field_validator("dims", "attributes")
    @classmethod
    def _user_dims(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if key in DEPENDENCY_DIMENSIONS:
                raise ValueError(f"dimension {key!r} is built in; map it in 'columns'")
        return v

    @model_validator(mode="after")
    def _dimension_or_attribute(self) -> ColumnMapping:
        both = self.dims.keys() & self.attributes.keys()
        if both:
            raise ValueError(f"{min(both)!r} is under both dims and attributes; keep it under one")
        return self

    @field_validator("provider_region_pattern")
    @classmethod
    def _one_group(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                groups = re.compile(v).groups
            except re.error as exc:
                raise ValueError(f"bad regular expression: {exc}") from None
            if groups != 1:
                raise ValueError(f"needs exactly one group, has {groups}")
        return v

    @field_validator("down_values", "inactive_values", "null_values")
    @classmethod
    def _lower_values(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(s.strip().lower() for s in v)


#: Built-in mappings for the real node lists in ``../shared/data/nodes`` (see the module docstring).
PRESETS: dict[str, ColumnMapping] = {
    "solana": ColumnMapping(
        name="solana",
        description="Solana validators (validators.app export): stake-weighted coordination nodes",
        columns={
            "id": "account",
            "lat": "latitude",
            "lon": "longitude",
            "stake": "active_stake_lamports",
            "asn": "autonomous_system_number",
            "country": "dc_country",
            "data_center": "data_center_key",
            "operator": "name",
            "software_client": "software_client",
            "status": "delinquent",
            "active": "is_active",
        },
        dims={"software_version": "software_version"},
        attributes={"jito": "jito", "doublezero": "is_dz"},
        stake_scale=1e-9,  # 1 SOL = 1e9 lamports
        stake_unit="SOL",
        down_values=("true",),
        inactive_values=("false",),
        null_values=("", "unknown", "nan", "null", "none", "n/a", "-", "0--unknown"),
    ),
    "ethereum": ColumnMapping(
        name="ethereum",
        description="Ethereum execution-layer nodes (/24 prefixes, geolocated): coordination nodes by count",
        columns={
            "id": "ip_prefix",
            "lat": "lat",
            "lon": "lon",
            "asn": "asn",
            "country": "country_code",
            "org": "org",
        },
        dims={"isp": "isp"},
        attributes={"hosting": "hosting", "proxy": "proxy", "mobile": "mobile"},
        number_repeated_ids=True,
        provider_region_pattern=(
            r"^(?:AWS EC2|Google Cloud|Oracle Cloud Infrastructure|Microsoft Azure Cloud) \(([a-z0-9-]+)\)$"
        ),
    ),
}


def as_dimensions(mapping: ColumnMapping, names: Iterable[str], origin: str = "--dimension") -> ColumnMapping:
    """``mapping`` with the attributes ``names`` imported as user dimensions instead (explicit opt-in).

    A name already under ``dims`` is left there; any other name raises :class:`DataImportError`.

    >>> m = as_dimensions(PRESETS["solana"], ["doublezero"])
    >>> m.dims["doublezero"], sorted(m.attributes)
    ('is_dz', ['jito'])
    """
    attributes = dict(mapping.attributes)
    dims = dict(mapping.dims)
    for name in names:
        if name in dims:
            continue
        if name not in attributes:
            known = ", ".join(sorted(attributes)) or "none"
            raise DataImportError(
                f"{origin}: {name!r} is not an attribute of mapping {mapping.name!r} (attributes: {known})"
            )
        dims[name] = attributes.pop(name)
    return mapping.model_copy(update={"dims": dims, "attributes": attributes})


def _mapping_error(exc: ValidationError, origin: str) -> DataImportError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    got = err.get("input")
    tail = "" if isinstance(got, dict | list | tuple) or err["type"] == "missing" else f" (got {got!r})"
    return DataImportError(f"{origin}: {loc + ': ' if loc else ''}{msg}{tail}".replace("\n", " "))


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read a :class:`ColumnMapping` from a YAML or JSON file (the keys are its attributes)."""
    p = Path(path)
    data = _read_mapping_file(p)
    data.setdefault("name", p.stem)
    try:
        return ColumnMapping.model_validate(data)
    except ValidationError as exc:
        raise _mapping_error(exc, f"mapping {p}") from None


def load_overrides(path: str | Path) -> dict[str, Any]:
    """Read a partial mapping (YAML/JSON) whose keys are :class:`ColumnMapping` attributes.

    The keys are checked here; the values when they are applied (:func:`resolve_mapping`).
    """
    p = Path(path)
    data = _read_mapping_file(p)
    _check_attributes(data, f"mapping {p}", "key")
    return data


def _check_attributes(keys: Iterable[str], origin: str, noun: str) -> None:
    """Raise naming the first of ``keys`` that is not a :class:`ColumnMapping` attribute."""
    for key in keys:
        if key not in ColumnMapping.model_fields:
            raise DataImportError(
                f"{origin}: unknown {noun} {key!r} ({noun}s: {', '.join(ColumnMapping.model_fields)})"
            )


def _read_mapping_file(p: Path) -> dict[str, Any]:
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataImportError(f"mapping: cannot read {p}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DataImportError(f"mapping: {p} is not valid YAML/JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise DataImportError(f"mapping: {p}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def resolve_mapping(mapping: ColumnMapping | str | Path, **overrides: Any) -> ColumnMapping:
    """A preset name, a mapping file or a :class:`ColumnMapping`, with attribute ``overrides`` applied.

    >>> resolve_mapping("solana", skip_bad_rows=True).skip_bad_rows
    True
    """
    if isinstance(mapping, ColumnMapping):
        base = mapping
    elif isinstance(mapping, str) and mapping in PRESETS:
        base = PRESETS[mapping]
    elif Path(mapping).suffix.lower() in (".yaml", ".yml", ".json") or Path(mapping).is_file():
        base = load_mapping(mapping)
    else:
        raise DataImportError(
            f"mapping: unknown preset {str(mapping)!r} (presets: {', '.join(sorted(PRESETS))}; "
            "or give a mapping .yaml file)"
        )
    if not overrides:
        return base
    _check_attributes(overrides, "mapping", "option")
    data = base.model_dump() | overrides
    try:
        return ColumnMapping.model_validate(data)
    except ValidationError as exc:
        raise _mapping_error(exc, f"mapping {base.name}") from None
