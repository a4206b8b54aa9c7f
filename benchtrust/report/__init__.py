"""Reliability report rendering: self-contained HTML (escaped), Markdown and JSON with the same numbers."""

from benchtrust.report.render import ReportBundle, build_bundles, write_report

__all__ = ["ReportBundle", "build_bundles", "write_report"]
