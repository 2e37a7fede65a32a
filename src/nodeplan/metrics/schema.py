"""The versioned JSON schema of ``nodeplan audit --json`` (documented field by field in docs/audit.md).

``schema_version`` changes its major number when a field is removed or changes meaning, and its minor
number when a field is added. Shares are fractions in [0, 1]; ``hhi`` is on the 0..10000 scale; ``null``
means "not applicable" (no weight, no demand, no stake).
"""

from __future__ import annotations

from typing import Any

__all__ = ["AUDIT_JSON_SCHEMA", "SCHEMA_VERSION"]

#: Version of the audit JSON layout.
SCHEMA_VERSION = "2.0"  # 1.1: baseline.dominant, derived_providers, measured_rtt_pairs; 1.2: attributes
# 2.0: failure_rows[].quorum and .largest_surviving_share replaced by halted, fragile and largest_surviving
# {dimension, value, share}; baseline gains halted, fragile, alive_stake_share, largest_surviving; harm
# counts stake lost and only new halts (model/consensus.py); verified counts independent verification
# within the SLO only (metrics/serving.py)

_num = {"type": ["number", "null"]}
_share = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_int_or_null = {"type": ["integer", "null"], "minimum": 1}


_bool_or_null = {"type": ["boolean", "null"]}


def _record(properties: dict[str, Any], *, closed: bool = True) -> dict[str, Any]:
    """A JSON object schema with every one of ``properties`` required (``closed``: and no others)."""
    extra: dict[str, Any] = {"additionalProperties": False} if closed else {}
    return {"type": "object", **extra, "required": list(properties), "properties": properties}


#: A domain and its share of the surviving stake, or null (no stake, or none survives).
_domain_or_null: dict[str, Any] = {
    "oneOf": [
        {"type": "null"},
        _record({"dimension": {"type": "string"}, "value": {"type": "string"}, "share": _share}),
    ]
}

#: JSON Schema (draft 2020-12) of :meth:`nodeplan.metrics.audit.AuditResult.to_dict`.
AUDIT_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "nodeplan audit",
    "type": "object",
    "required": [
        "schema_version",
        "scenario",
        "weight",
        "unknown_policy",
        "roles",
        "nodes",
        "live_nodes",
        "headline",
        "summary",
        "measures",
        "empty_dimensions",
        "clustered_dimensions",
        "baseline",
        "derived_providers",
        "measured_rtt_pairs",
        "failure_rows",
        "attributes",
    ],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "scenario": {"type": "string"},
        "weight": {"enum": ["count", "capacity", "stake"]},
        "unknown_policy": {"enum": ["entity", "exclude", "singletons"]},
        "roles": {"type": "array", "items": {"type": "string"}},
        "nodes": {"type": "integer", "minimum": 0},
        "live_nodes": {"type": "integer", "minimum": 0},
        "headline": {"type": "string"},
        "empty_dimensions": {"type": "array", "items": {"type": "string"}},
        "clustered_dimensions": {"type": "array", "items": {"type": "string"}},
        "baseline": _record(
            {
                "demand_served": _share,
                "verified": _share,
                "halted": _bool_or_null,
                "fragile": _bool_or_null,
                "alive_stake_share": _share,
                "largest_surviving": _domain_or_null,
                "dominant": {
                    "type": "array",
                    "items": _record(
                        {
                            "dimension": {"type": "string"},
                            "value": {"type": "string"},
                            "share": {"type": "number", "minimum": 0.3333, "maximum": 1},
                        }
                    ),
                },
            },
            closed=False,
        ),
        "measured_rtt_pairs": {"type": "integer", "minimum": 0},
        "derived_providers": {
            "type": "array",
            "items": _record({"provider": {"type": "string"}, "nodes": {"type": "integer", "minimum": 1}}),
        },
        "summary": {
            "type": "array",
            "items": _record(
                {
                    "role": {"type": "string"},
                    "nodes": {"type": "integer", "minimum": 0},
                    "countries": {"type": "integer", "minimum": 0},
                    "locations": {"type": "integer", "minimum": 0},
                    "dimensions": {"type": "array", "items": {"type": "string"}},
                    "effective_domains": _num,
                    "components": {"type": "integer", "minimum": 0},
                    "largest_component_share": _share,
                    "unknown_share": _share,
                }
            ),
        },
        "measures": {
            "type": "array",
            "items": _record(
                {
                    "dimension": {"type": "string"},
                    "role": {"type": "string"},
                    "entities": {"type": "integer", "minimum": 0},
                    "present": {"type": "integer", "minimum": 0},
                    "nakamoto_50": _int_or_null,
                    "nakamoto_33": _int_or_null,
                    "hhi": {"type": ["number", "null"], "minimum": 0, "maximum": 10000},
                    "entropy_bits": _num,
                    "entropy_norm": _share,
                    "effective_hhi": _num,
                    "effective_entropy": _num,
                    "gini": _share,
                    "theil": _num,
                    "top1_share": _share,
                    "top3_share": _share,
                    "unknown_share": _share,
                    "total_weight": {"type": "number", "minimum": 0},
                    "top": {
                        "type": "array",
                        "items": _record({"entity": {"type": "string"}, "share": _share}, closed=False),
                    },
                }
            ),
        },
        "attributes": {
            "type": "array",
            "items": _record(
                {
                    "name": {"type": "string"},
                    "flag": {"type": "boolean"},
                    "distinct": {"type": "integer", "minimum": 0},
                    "unknown_nodes": {"type": "integer", "minimum": 0},
                    "unknown_share": _share,
                    "values": {
                        "type": "array",
                        "items": _record(
                            {
                                "value": {"type": ["string", "boolean"]},
                                "nodes": {"type": "integer", "minimum": 1},
                                "node_share": _share,
                                "stake_share": _share,
                            }
                        ),
                    },
                }
            ),
        },
        "failure_rows": {
            "type": "array",
            "items": _record(
                {
                    "dimension": {"type": "string"},
                    "value": {"type": "string"},
                    "nodes": {"type": "integer", "minimum": 0},
                    "share_lost": _share,
                    "capacity_lost": _share,
                    "stake_lost": _share,
                    "demand_served": _share,
                    "verified": _share,
                    "models_unreplicated": {"type": "array", "items": {"type": "string"}},
                    "halted": _bool_or_null,
                    "fragile": _bool_or_null,
                    "alive_stake_share": _share,
                    "largest_surviving": _domain_or_null,
                    "harm": {"type": "number", "minimum": 0},
                }
            ),
        },
    },
}
