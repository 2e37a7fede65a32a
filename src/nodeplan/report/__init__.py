"""nodeplan.report: Rich tables and the offline HTML report of an audit."""

from nodeplan.report.html import render_html, write_html
from nodeplan.report.tables import print_audit

__all__ = ["print_audit", "render_html", "write_html"]
