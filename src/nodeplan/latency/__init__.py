"""nodeplan.latency."""
