"""nodeplan.metrics."""
