"""Reliability report rendering: self-contained HTML (escaped, inline SVG plots), Markdown and JSON with the same
numbers; verdict rules (:mod:`.verdicts`); what changed between versions (:mod:`.changes`)."""

from benchtrust.report.bundle import BenchmarkIndex, ReportBundle, build_bundles, build_indexes
from benchtrust.report.render import write_home, write_index, write_report

__all__ = [
    "BenchmarkIndex",
    "ReportBundle",
    "build_bundles",
    "build_indexes",
    "write_home",
    "write_index",
    "write_report",
]
