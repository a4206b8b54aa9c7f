"""The benchmark page after `benchtrust import helm` of the shared 10-model HELM MMLU matrix, in headless Chromium
(issue 14 acceptance): the ranking with intervals and ranking stability above a 10 × 10 matrix of paired
differences with significance marks, the label-error candidates below it. Checked on the DOM Chromium builds
(parsed with the standard library's HTMLParser, not by regex), the screenshot kept in test-artifacts/ui/.

Skips with a message when ../shared/external-data or Chromium is absent. Heavy (a real import, dbt build and
report writing on 140k rows, minutes): run under the shared lock.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import external
from tests.ui import support

pytestmark = pytest.mark.skipif(
    support.chromium_binary() is None,
    reason="Chromium is not installed, so the browser tests cannot run: scripts/setup.sh installs Debian's "
    "`chromium` package with apt-get where apt is available (or install it yourself and rerun)",
)

SHOTS = support.ARTIFACTS / "ui"
HELM = "helm_mmlu/helm_10models_mmlu_item_matrix.csv"


@pytest.fixture(scope="module")
def helm_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temporary benchtrust home after `benchtrust import helm <the shared HELM matrix>` (import, dbt build and
    reports through the real CLI)."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    csv = external(HELM)  # skips with a clear message when ../shared/external-data is absent
    home = tmp_path_factory.mktemp("helm_page") / "bt_home"
    (home / "dagster_home").mkdir(parents=True)
    saved = {k: os.environ.get(k) for k in support.ENV_KEYS}
    for k in support.ENV_KEYS:
        os.environ.pop(k, None)
    os.environ["BENCHTRUST_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    try:
        res = CliRunner().invoke(app, ["import", "helm", str(csv)])
        assert res.exit_code == 0, res.output
        yield home
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Matrix(HTMLParser):
    """The cells of ``<table id="comparisons">``: per row, its header text and each td's class and text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, object]] = []
        self.sections: list[str] = []  # ids of the h2 headings, in page order
        self._in_table = False
        self._cell: dict[str, str] | None = None
        self._row_head: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "h2" and a.get("id"):
            self.sections.append(str(a["id"]))
        if tag == "table" and a.get("id") == "comparisons":
            self._in_table = True
        if not self._in_table:
            return
        if tag == "tr":
            self.rows.append({"head": "", "cells": []})
        elif tag == "th" and "rowhead" in (a.get("class") or ""):
            self._row_head = []
        elif tag == "td":
            self._cell = {"class": a.get("class") or "", "text": "", "title": a.get("title") or ""}

    def handle_endtag(self, tag: str) -> None:
        if not self._in_table:
            return
        if tag == "table":
            self._in_table = False
        elif tag == "th" and self._row_head is not None:
            self.rows[-1]["head"] = "".join(self._row_head).strip()
            self._row_head = None
        elif tag == "td" and self._cell is not None:
            cells = self.rows[-1]["cells"]
            assert isinstance(cells, list)
            cells.append(self._cell)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data
        if self._row_head is not None:
            self._row_head.append(data)


def test_benchmark_page_shows_a_10_by_10_matrix_with_significance_marks(helm_home: Path) -> None:
    [index] = list((helm_home / "reports" / "_benchmarks").glob("*/*/index.html"))
    data = json.loads(index.with_name("index.json").read_text())
    dom = support.dump_dom(index.as_uri(), budget_ms=3000, size="1600,2400")
    page = _Matrix()
    page.feed(dom)

    body = [r for r in page.rows if r["head"]]
    assert len(body) == 10, [r["head"] for r in body]
    cells = [c for r in body for c in r["cells"]]  # type: ignore[attr-defined]
    assert len(cells) == 100 and all(len(r["cells"]) == 10 for r in body)  # type: ignore[arg-type]
    # rows in ranking order, the diagonal empty
    assert [str(r["head"]).split(". ", 1)[1] for r in body] == [m["model"] for m in data["models"]]
    assert [i for i, c in enumerate(cells) if "self" in c["class"]] == [11 * k for k in range(10)]
    pairs = [c for c in cells if "pair" in c["class"]]
    greyed = [c for c in cells if "none" in c["class"]]
    no_shared = [c for c in data["comparisons"] if not c["n_shared"]]
    assert len(greyed) == 2 * len(no_shared) and len(pairs) == 90 - len(greyed)
    assert all(c["text"].strip() == "no shared items" and "p =" not in c["title"] for c in greyed)
    # marks: ** p < 0.01, * p < 0.05, as the legend says, from the mart's p-values
    marked = [c for c in pairs if c["text"].endswith("*")]
    assert marked, "no significance mark on the page"
    by_p = {(c["model_a"], c["model_b"]): c["mcnemar_p"] for c in data["comparisons"]}
    n_sig = 2 * sum(1 for p in by_p.values() if p is not None and p < 0.05)
    assert len(marked) == n_sig
    assert sum(1 for c in pairs if c["text"].endswith("**")) == 2 * sum(
        1 for p in by_p.values() if p is not None and p < 0.01
    )
    assert "p &lt; 0.01" in dom and "p &lt; 0.05" in dom  # the legend states the convention
    # the matrix is antisymmetric: row − column = −(column − row)
    vals = [[c["text"].rstrip("*") for c in r["cells"]] for r in body]  # type: ignore[attr-defined]
    for i in range(10):
        for j in range(i + 1, 10):
            if vals[i][j] not in ("·", "no shared items"):
                assert float(vals[i][j]) == pytest.approx(-float(vals[j][i]), abs=0.051)
    # ranking and its stability above the matrix, the label-error candidates below it
    s = page.sections
    assert s.index("ranking-stability") < s.index("paired-comparisons") < s.index("label-errors")
    assert 'id="rank-probabilities"' in dom and 'id="label-error-candidates"' in dom
    shot = support.screenshot(index.as_uri(), SHOTS / "benchmark-page-helm.png", budget_ms=3000, size="1400,5200")
    assert shot.stat().st_size > 20_000


def test_home_page_shows_n(helm_home: Path) -> None:
    dom = support.dump_dom((helm_home / "reports" / "index.html").as_uri(), budget_ms=2000)
    assert '<th class="num">n</th>' in dom and dom.count('<td class="num">14014</td>') == 10
