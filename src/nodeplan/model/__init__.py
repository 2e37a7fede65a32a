"""Latency layer: RTT fit and measured matrices, M/M/c queueing, cold start, service and verification time."""

from nodeplan.model.geo import fiber_rtt_ms, great_circle_km
from nodeplan.model.matrix_io import load_rtt_matrix
from nodeplan.model.queueing import erlang_c, mmc_wait_s
from nodeplan.model.rtt import LinearRtt, MeasuredRtt, RttFit, RttModel, StretchRtt, default_rtt_model
from nodeplan.model.timing import TimeBreakdown, TimingParams, cold_start_s, service_s_by_node

__all__ = [
    "LinearRtt",
    "MeasuredRtt",
    "RttFit",
    "RttModel",
    "StretchRtt",
    "TimeBreakdown",
    "TimingParams",
    "cold_start_s",
    "default_rtt_model",
    "erlang_c",
    "fiber_rtt_ms",
    "great_circle_km",
    "load_rtt_matrix",
    "mmc_wait_s",
    "service_s_by_node",
]
