"""nodeplan.routing."""
