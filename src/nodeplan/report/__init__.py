"""nodeplan.report."""
