"""The scenario data model: nodes, models, demand, failure probabilities and policy.

These pydantic models are the file/CLI/HTTP boundary. They are frozen; code that needs speed works on the
numpy view built by :mod:`nodeplan.scenario.arrays`. Units are in the field names (``_ms``, ``_s``,
``_bytes``, ``_gb``, ``_rps``, ``_usd_per_hour``).

Cross-references (a node's warm model, a demand's model) and uniqueness are checked by
:class:`Scenario`; :func:`nodeplan.scenario.io.parse_scenario` turns a pydantic error into a one-line
:class:`~nodeplan.exceptions.ScenarioError` naming the field and the bad value.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

__all__ = [
    "DEPENDENCY_DIMENSIONS",
    "DemandClass",
    "DemandSource",
    "FailureSpec",
    "Model",
    "Node",
    "NodeStatus",
    "Policy",
    "Role",
    "Scenario",
    "VerificationMode",
]


class Role(StrEnum):
    """What a node does in the network."""

    EXECUTION = "execution"
    VERIFICATION = "verification"
    STORAGE = "storage"
    COORDINATION = "coordination"


class VerificationMode(StrEnum):
    """How a result is checked (OpenGradient's documented modes; ``none`` is its "vanilla")."""

    NONE = "none"
    TEE = "tee"
    ZKML = "zkml"
    REEXEC = "reexec"


class NodeStatus(StrEnum):
    """Whether a node is serving."""

    UP = "up"
    DOWN = "down"


#: Built-in dependency (failure and trust) dimensions, in reporting order. Users add more in
#: ``Node.dims``. ``data_center -> provider_region -> provider`` and ``country -> jurisdiction`` form
#: the hierarchy of :mod:`nodeplan.scenario.graph`.
DEPENDENCY_DIMENSIONS: tuple[str, ...] = (
    "provider",
    "provider_region",
    "data_center",
    "asn",
    "country",
    "jurisdiction",
    "operator",
    "tee_vendor",
    "software_client",
)

# Ids: no whitespace and no control characters (they end up in tables, URLs and file names).
_ID = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s\x00-\x1f\x7f]+$")]
#: Upper bound of ``Node.capacity``: far above any real node, well inside int64 (numpy view).
MAX_CAPACITY = 10**9
_NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
# Attribute and user-dimension names: no whitespace or control characters (they are CLI names too).
_NAME = re.compile(r"^[^\s\x00-\x1f\x7f]{1,64}$")


def _attribute_value(v: Any) -> Any:
    """An attribute value is non-empty text or a boolean (a number or null is refused, never coerced)."""
    if isinstance(v, bool) or (isinstance(v, str) and v):
        return v
    raise ValueError("an attribute is non-empty text or true/false; leave an unknown value out")


@lru_cache(maxsize=4096)  # a node list repeats a handful of names on every node
def _bad_attribute_name(key: str) -> str | None:
    """Why ``key`` cannot name an attribute, or ``None``."""
    if key in DEPENDENCY_DIMENSIONS:
        return f"{key!r} is a built-in dimension; set it as a node field, not an attribute"
    if not _NAME.match(key):
        return f"attribute name {key!r}: 1-64 characters, no spaces or control characters"
    return None


_AttributeValue = Annotated[bool | str, BeforeValidator(_attribute_value)]
_Pos = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class Node(_Frozen):
    """One machine (or one operator-run endpoint) of the network.

    ``capacity`` is the number of requests it serves at once (the ``c`` of M/M/c). ``gpu_memory_gb``
    bounds the total size of its warm models; ``disk_gb`` bounds what it stores. ``price_usd_per_hour``
    is the whole node's price; one request costs its share of a slot for its service time.

    ``dims`` are user dependency dimensions (failure and trust domains, like ``provider``); ``attributes``
    describe the node (e.g. ``doublezero: true``, ``hosting: false``): the audit shows them, but they are
    never failed, measured as domains or checked for independence. To make an attribute a failure domain,
    move it to ``dims`` (``nodeplan import --dimension NAME`` does it at import).
    """

    id: _ID
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="latitude, degrees")
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="longitude, degrees")
    roles: frozenset[Role] = Field(min_length=1)
    capacity: int = Field(default=1, ge=0, le=MAX_CAPACITY, description="concurrent request slots")
    hardware: str = Field(default="cpu", min_length=1, description="hardware class, key of Model.service_s")
    gpu_memory_gb: _NonNeg = 0.0
    disk_gb: _NonNeg = 0.0
    bandwidth_gbps: _Pos = Field(default=10.0, description="network link, Gbit/s")
    price_usd_per_hour: _NonNeg = 0.0
    stake: _NonNeg = Field(default=0.0, description="voting power (coordination role)")
    warm_models: tuple[str, ...] = ()
    stored_models: tuple[str, ...] = ()
    verification_modes: frozenset[VerificationMode] = frozenset({VerificationMode.NONE})
    status: NodeStatus = NodeStatus.UP
    provider: str | None = None
    provider_region: str | None = None
    data_center: str | None = None
    asn: int | None = Field(default=None, ge=0, le=2**32 - 1, description="32-bit AS number")
    country: str | None = Field(default=None, min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    jurisdiction: str | None = None
    operator: str | None = None
    tee_vendor: str | None = None
    software_client: str | None = None
    dims: dict[str, str] = Field(default_factory=dict, description="user-defined dependency dimensions")
    attributes: dict[str, _AttributeValue] = Field(
        default_factory=dict,
        description="descriptive attributes (text or true/false): shown, never failed or counted as domains",
    )

    @field_validator("country")
    @classmethod
    def _upper_country(cls, v: str | None) -> str | None:
        return v.upper() if v is not None else v

    @field_validator("dims")
    @classmethod
    def _no_builtin_dims(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if key in DEPENDENCY_DIMENSIONS:
                raise ValueError(f"dimension {key!r} is built in; set it as a node field, not in dims")
        return v

    @field_validator("attributes")
    @classmethod
    def _attribute_names(cls, v: dict[str, bool | str], info: ValidationInfo) -> dict[str, bool | str]:
        dims = info.data.get("dims", {})
        for key in v:
            if key in dims:
                raise ValueError(f"{key!r} is also in dims; a key is a dimension or an attribute, not both")
            bad = _bad_attribute_name(key)
            if bad:
                raise ValueError(bad)
        return v

    @model_validator(mode="after")
    def _unique_lists(self) -> Node:
        for name in ("warm_models", "stored_models"):
            vals = getattr(self, name)
            if len(set(vals)) != len(vals):
                dup = next(v for v in vals if vals.count(v) > 1)
                raise ValueError(f"{name} lists {dup!r} twice")
        return self

    @field_serializer("roles", "verification_modes")
    def _sorted_set(self, v: frozenset[StrEnum]) -> list[str]:
        order = {m: i for i, m in enumerate(type(next(iter(v))))} if v else {}
        return [m.value for m in sorted(v, key=order.__getitem__)]

    def dim(self, name: str) -> str | None:
        """Value of dependency dimension ``name`` as a string (``None`` when unknown)."""
        if name in DEPENDENCY_DIMENSIONS:
            v = getattr(self, name)
            return None if v is None else str(v)
        return self.dims.get(name)


class Model(_Frozen):
    """A model that nodes serve.

    Cold start on a node = fetch ``size_bytes`` from a storage replica + ``load_s`` + ``init_s``.
    ``service_s`` maps hardware class to the mean seconds of one call without verification;
    ``verification`` maps each applicable mode to its slowdown factor on the executor (TEE ~2-3x,
    zkML 100-1000x; ``reexec`` is the total work factor, 2.0 = one extra run on a verifier).
    """

    id: _ID
    size_bytes: int = Field(ge=0, le=2**53, description="weights size, bytes (exact as a float64)")
    load_s: _NonNeg = 0.0
    init_s: _NonNeg = 0.0
    service_s: dict[str, _Pos] = Field(min_length=1)
    verification: dict[VerificationMode, Annotated[float, Field(ge=1, allow_inf_nan=False)]] = Field(
        default_factory=lambda: {VerificationMode.NONE: 1.0}
    )
    format: str = "onnx"
    min_gpu_memory_gb: _NonNeg = 0.0


class DemandSource(_Frozen):
    """Where requests come from: a city or region with a relative weight (e.g. population)."""

    name: str = Field(min_length=1)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    weight: _NonNeg = 1.0
    country: str | None = None


class DemandClass(_Frozen):
    """A stream of requests for one model, spread over the sources by weight."""

    model: str = Field(min_length=1)
    rate_rps: _NonNeg = Field(description="total arrival rate over all sources, requests/s")
    slo_ms: _Pos = Field(description="end-to-end latency objective, ms")
    verification: VerificationMode = VerificationMode.NONE
    verifiers: int = Field(default=0, ge=0, le=16)

    @model_validator(mode="after")
    def _verifiers_need_mode(self) -> DemandClass:
        if self.verification is not VerificationMode.NONE and self.verifiers < 1:
            raise ValueError(f"verification {self.verification.value!r} needs verifiers >= 1")
        return self


class FailureSpec(_Frozen):
    """Failure probability of each domain of one dimension over the planning window."""

    default: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.0
    values: dict[str, Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]] = Field(default_factory=dict)


class Policy(_Frozen):
    """Routing defaults: which dimensions an executor and its verifiers must not share."""

    name: str = "nodeplan"
    independence: tuple[str, ...] = ("provider", "asn", "operator", "data_center", "tee_vendor")
    price_weight_ms_per_usd: _NonNeg = Field(
        default=0.0, description="ms of expected time one USD is worth; 0 = price only breaks ties"
    )


class Scenario(_Frozen):
    """Nodes + models + demand + failure probabilities + policy."""

    name: str = "scenario"
    description: str = ""
    nodes: tuple[Node, ...] = Field(min_length=1)
    models: tuple[Model, ...] = ()
    sources: tuple[DemandSource, ...] = ()
    demand: tuple[DemandClass, ...] = ()
    failures: dict[str, FailureSpec] = Field(default_factory=dict)
    policy: Policy = Field(default_factory=Policy)

    @model_validator(mode="after")
    def _cross_refs(self) -> Scenario:
        seen: set[str] = set()
        for i, n in enumerate(self.nodes):
            if n.id in seen:
                raise _located(f"nodes.{i}.id", f"duplicate node id {n.id!r}")
            seen.add(n.id)
        model_ids: dict[str, Model] = {}
        for i, m in enumerate(self.models):
            if m.id in model_ids:
                raise _located(f"models.{i}.id", f"duplicate model id {m.id!r}")
            model_ids[m.id] = m
        for i, n in enumerate(self.nodes):
            for field in ("warm_models", "stored_models"):
                for mid in getattr(n, field):
                    if mid not in model_ids:
                        raise _located(f"nodes.{i}.{field}", f"unknown model {mid!r} on node {n.id!r}")
            warm_gb = sum(model_ids[m].size_bytes for m in n.warm_models) / 1e9
            if warm_gb > n.gpu_memory_gb + 1e-9 and any(model_ids[m].size_bytes for m in n.warm_models):
                raise _located(
                    f"nodes.{i}.warm_models",
                    f"warm models of node {n.id!r} need {warm_gb:.2f} GB but gpu_memory_gb is {n.gpu_memory_gb}",
                )
        for i, d in enumerate(self.demand):
            if d.model not in model_ids:
                raise _located(f"demand.{i}.model", f"unknown model {d.model!r}")
            if d.verification not in model_ids[d.model].verification:
                raise _located(
                    f"demand.{i}.verification",
                    f"model {d.model!r} does not support verification {d.verification.value!r}",
                )
        user_dims = {k for n in self.nodes for k in n.dims}
        attrs = {k for n in self.nodes for k in n.attributes}
        if user_dims & attrs:
            i, n = next((i, n) for i, n in enumerate(self.nodes) if n.attributes.keys() & user_dims)
            key = min(n.attributes.keys() & user_dims)
            raise _located(
                f"nodes.{i}.attributes.{key}",
                f"{key!r} is a dimension (dims) on other nodes; a key is a dimension or an attribute",
            )
        dims = set(DEPENDENCY_DIMENSIONS) | user_dims
        named = [(f"failures.{k}", k) for k in self.failures]
        named += [(f"policy.independence.{j}", k) for j, k in enumerate(self.policy.independence)]
        for loc, key in named:
            if key in attrs:
                raise _located(
                    loc,
                    f"{key!r} is a node attribute, not a dimension: move it to the nodes' dims "
                    f"(or import with --dimension {key}) to make it a failure domain",
                )
            if key not in dims:
                raise _located(loc, f"unknown dimension {key!r}")
        if self.demand and not self.sources:
            raise _located("sources", "demand is given but there are no sources")
        return self

    # -- lookups ------------------------------------------------------------------------------------
    def model(self, model_id: str) -> Model:
        """The model with this id; raises :class:`ScenarioError` naming it when unknown."""
        from nodeplan.exceptions import ScenarioError

        for m in self.models:
            if m.id == model_id:
                return m
        known = ", ".join(m.id for m in self.models) or "none"
        raise ScenarioError(f"model: unknown model {model_id!r} (known: {known})")

    def node(self, node_id: str) -> Node:
        """The node with this id; raises :class:`ScenarioError` naming it when unknown."""
        from nodeplan.exceptions import ScenarioError

        for n in self.nodes:
            if n.id == node_id:
                return n
        raise ScenarioError(f"node: unknown node id {node_id!r}")

    def dimensions(self) -> tuple[str, ...]:
        """Built-in dimensions followed by user-defined ones (sorted); never the nodes' attributes."""
        extra = sorted({k for n in self.nodes for k in n.dims})
        return DEPENDENCY_DIMENSIONS + tuple(extra)

    def attribute_names(self) -> tuple[str, ...]:
        """Names of the nodes' attributes (sorted): shown by the audit, never failure domains."""
        return tuple(sorted({k for n in self.nodes for k in n.attributes}))


class _LocatedError(ValueError):
    """A cross-reference error that carries its own field path (read by ``io._one_line``)."""

    def __init__(self, loc: str, msg: str) -> None:
        super().__init__(msg)
        self.loc = loc


def _located(loc: str, msg: str) -> _LocatedError:
    return _LocatedError(loc, msg)
