"""nodeplan.scenario."""
