"""nodeplan.metrics: concentration measures, dependency graph, failure table and the audit."""

from nodeplan.metrics.audit import AuditResult, Weight, audit_scenario
from nodeplan.metrics.measures import UnknownPolicy

__all__ = ["AuditResult", "UnknownPolicy", "Weight", "audit_scenario"]
