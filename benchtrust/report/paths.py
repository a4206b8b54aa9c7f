"""Where a report version lives under the reports root (not the lake: reports are outputs, see
:mod:`benchtrust.report.render` for the whole layout)."""

from __future__ import annotations

from pathlib import Path

from benchtrust.lake import path_part, safe_name


def report_folder(root: Path, model: str, benchmark: str, version: str) -> Path:
    """``<root>/<model>/<benchmark>/<report_version>`` with each part made a safe folder name."""
    return root / path_part(model) / path_part(benchmark) / safe_name(version)
