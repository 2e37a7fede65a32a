"""Round-trip time between two points: a fitted ``a + b·km`` line, or a measured matrix that overrides it.

Two fits ship with the package (``data/rtt_fit.json``, produced by :mod:`nodeplan.model.fit` from
``../shared/data/latency``): ``public`` (WonderProxy city-to-city pings over the public internet) and
``backbone`` (AWS inter-region p50, standing in for any provider's private backbone between two of its own
sites). A prediction is never below the fibre floor ``km / 100`` ms.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nodeplan.exceptions import LatencyModelError
from nodeplan.model.geo import fiber_rtt_ms, great_circle_km

__all__ = ["LinearRtt", "MeasuredRtt", "RttModel", "default_rtt_model"]


@dataclass(frozen=True)
class LinearRtt:
    """RTT = ``a_ms + b_ms_per_km · great-circle km``, floored at the fibre bound.

    Examples
    --------
    >>> fit = LinearRtt(a_ms=10.0, b_ms_per_km=0.02)
    >>> float(fit.rtt_ms_km(1000.0))
    30.0
    >>> float(LinearRtt(0.0, 0.005).rtt_ms_km(1000.0))  # below light in fibre: floored at km/100
    10.0
    """

    a_ms: float
    b_ms_per_km: float
    source: str = ""

    def __post_init__(self) -> None:
        if (
            not (np.isfinite(self.a_ms) and np.isfinite(self.b_ms_per_km))
            or self.a_ms < 0
            or self.b_ms_per_km < 0
        ):
            raise LatencyModelError(
                f"rtt fit: coefficients must be finite and >= 0 (got a_ms={self.a_ms}, b_ms_per_km={self.b_ms_per_km})"
            )

    def rtt_ms_km(self, km: ArrayLike) -> NDArray[np.float64]:
        """Predicted RTT in ms for great-circle distances ``km``."""
        d = np.asarray(km, dtype=float)
        return np.maximum(self.a_ms + self.b_ms_per_km * d, fiber_rtt_ms(d))


@dataclass(frozen=True)
class MeasuredRtt:
    """A measured RTT matrix between named points (node ids or demand-source names), ms.

    Pairs present in it override the fit; the matrix is symmetrised by averaging both directions when
    both are given.
    """

    names: tuple[str, ...]
    matrix_ms: NDArray[np.float64]

    def __post_init__(self) -> None:
        k = len(self.names)
        if self.matrix_ms.shape != (k, k):
            raise LatencyModelError(f"rtt matrix: shape {self.matrix_ms.shape} does not match {k} names")
        bad = np.isfinite(self.matrix_ms) & (self.matrix_ms < 0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise LatencyModelError(
                f"rtt matrix: negative RTT {self.matrix_ms[i, j]} ms for {self.names[i]!r} -> {self.names[j]!r}"
            )
        if len(set(self.names)) != k:
            raise LatencyModelError("rtt matrix: duplicate names")

    @classmethod
    def from_pairs(cls, pairs: Mapping[tuple[str, str], float]) -> MeasuredRtt:
        """Build from ``{(a, b): ms}``; missing pairs are NaN (fall back to the fit)."""
        names = tuple(sorted({x for ab in pairs for x in ab}))
        idx = {n: i for i, n in enumerate(names)}
        m = np.full((len(names), len(names)), np.nan)
        for (a, b), v in pairs.items():
            if not np.isfinite(v):
                raise LatencyModelError(f"rtt matrix: RTT for {a!r} -> {b!r} is not finite (got {v!r})")
            m[idx[a], idx[b]] = v
        both = np.isfinite(m) & np.isfinite(m.T)
        sym = np.where(both, (m + m.T) / 2.0, np.where(np.isfinite(m), m, m.T))
        return cls(names, sym)

    def lookup(self, a: Sequence[str], b: Sequence[str]) -> NDArray[np.float64]:
        """(len(a), len(b)) matrix of measured RTTs, NaN where not measured."""
        idx = {n: i for i, n in enumerate(self.names)}
        ia = np.array([idx.get(x, -1) for x in a], dtype=np.int64)  # int even when empty
        ib = np.array([idx.get(x, -1) for x in b], dtype=np.int64)
        out = np.full((len(ia), len(ib)), np.nan)
        ok_a, ok_b = ia >= 0, ib >= 0
        out[np.ix_(ok_a, ok_b)] = self.matrix_ms[np.ix_(ia[ok_a], ib[ok_b])]
        return out


@dataclass(frozen=True)
class RttModel:
    """The RTT model used everywhere: public fit, backbone fit, optional measured overrides."""

    public: LinearRtt
    backbone: LinearRtt
    measured: MeasuredRtt | None = None

    def rtt_ms(
        self,
        lat1: ArrayLike,
        lon1: ArrayLike,
        lat2: ArrayLike,
        lon2: ArrayLike,
        same_provider: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Predicted RTT (ms) between points (degrees); broadcasts like numpy.

        ``same_provider`` (bool, broadcastable) selects the backbone fit where true.
        """
        km = great_circle_km(lat1, lon1, lat2, lon2)
        rtt = self.public.rtt_ms_km(km)
        if same_provider is not None:
            rtt = np.where(np.asarray(same_provider, dtype=bool), self.backbone.rtt_ms_km(km), rtt)
        return rtt

    def rtt_ms_named(
        self,
        names_a: Sequence[str],
        lat_a: ArrayLike,
        lon_a: ArrayLike,
        names_b: Sequence[str],
        lat_b: ArrayLike,
        lon_b: ArrayLike,
        same_provider: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """(len(a), len(b)) RTT matrix, taking measured values where the matrix has them."""
        la, lo = np.asarray(lat_a, dtype=float)[:, None], np.asarray(lon_a, dtype=float)[:, None]
        out = self.rtt_ms(
            la,
            lo,
            np.asarray(lat_b, dtype=float)[None, :],
            np.asarray(lon_b, dtype=float)[None, :],
            same_provider,
        )
        if self.measured is not None:
            meas = self.measured.lookup(names_a, names_b)
            out = np.where(np.isfinite(meas), meas, out)
        return out

    def with_measured(self, measured: MeasuredRtt | None) -> RttModel:
        """A copy that uses ``measured`` as overrides."""
        return RttModel(self.public, self.backbone, measured)


@cache
def default_rtt_model() -> RttModel:
    """The RTT model fitted on ``../shared/data/latency`` (coefficients shipped in ``data/rtt_fit.json``)."""
    raw = json.loads(resources.files("nodeplan.model").joinpath("data", "rtt_fit.json").read_text("utf-8"))
    pub, bb = raw["public"], raw["backbone"]
    return RttModel(
        public=LinearRtt(float(pub["a_ms"]), float(pub["b_ms_per_km"]), str(pub.get("source", ""))),
        backbone=LinearRtt(float(bb["a_ms"]), float(bb["b_ms_per_km"]), str(bb.get("source", ""))),
    )
