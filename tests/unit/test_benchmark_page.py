"""The benchmark page (issue 14 item 4 and its report defects, issue 11's super-linear MDE step): the matrix of
paired differences, the marks, pairs without shared items, ranking stability and label errors per dataset
version, which MDE method gave each number, and the small report defects — on a real DuckDB warehouse
(tests/unit/benchmark_page_warehouse.py) and the real templates."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from benchtrust.report import changes as ch
from benchtrust.report import warehouse as wh
from benchtrust.report.bundle import ReportBundle
from benchtrust.report.format import EXACT_MDE_MAX_N, METHOD_EXACT, METHOD_NORMAL, oriented
from benchtrust.report.index import build_indexes
from benchtrust.report.matrix import comparison_matrix, significance_mark
from benchtrust.report.render import render_html, render_index_html, render_index_markdown, write_home
from benchtrust.stats import minimum_detectable_effect
from tests.unit import benchmark_page_warehouse as bpw

HOSTILE = '<img src=x onerror="alert(1)">'


def _row(n: int, **kw: object) -> dict:
    base = {
        "model_a": "a",
        "model_b": "b",
        "report_version_a": "ra",
        "report_version_b": "rb",
        "n_shared": n,
        "acc_a": None,
        "acc_b": None,
        "delta": None,
        "n_both_correct": 0,
        "n_only_a": 0,
        "n_only_b": 0,
        "n_neither": 0,
        "agreement": None,
        "mcnemar_p": None,
        "mde_normal": None,
        "power_normal": None,
    }
    return {**base, **kw}


def test_no_shared_items_never_reads_as_a_p_value() -> None:
    # an older mart wrote mcnemar_p = 1.0 for a pair with no shared items
    o = oriented(_row(0, mcnemar_p=1.0), "a")
    assert o["mcnemar_p"] is None and o["status"] == "no shared items" and not o["significant"]
    assert o["mde"] is None and o["mde_method"] is None
    cell = comparison_matrix(["a", "b"], [{**_row(0), **o}])[0]["cells"][1]
    assert cell == {"kind": "none", "n_shared": 0, "status": "no shared items"}


def test_mde_is_exact_at_small_n_and_the_marts_normal_approximation_above() -> None:
    small = _row(
        400, acc_a=0.6, acc_b=0.65, delta=0.05, agreement=0.8, mcnemar_p=0.03, mde_normal=0.05, power_normal=0.5
    )
    o = oriented(small, "a")
    assert o["mde_method"] == METHOD_EXACT
    exact = minimum_detectable_effect(400, 0.6, 0.8, alpha=ch.ALPHA, power=ch.POWER, method="exact")
    assert o["mde"] == pytest.approx(exact, abs=1e-12) and o["mde"] != 0.05
    big = {**small, "n_shared": EXACT_MDE_MAX_N + 1}
    o = oriented(big, "a")
    assert o["mde_method"] == METHOD_NORMAL and o["mde"] == 0.05 and o["power_observed"] == 0.5
    # the caller can turn the exact computation off (the page does past EXACT_MDE_MAX_PAIRS pairs)
    assert oriented(small, "a", exact=False)["mde"] == 0.05


def test_significance_marks_and_matrix_orientation() -> None:
    assert [significance_mark(p) for p in (0.009, 0.01, 0.049, 0.05, 0.5, None)] == ["**", "*", "*", "", "", ""]
    pair = {"model_a": "a", "model_b": "b", "n_shared": 100, "delta": 0.07, "mcnemar_p": 0.004}  # acc_b − acc_a
    m = comparison_matrix(["b", "a", "c"], [pair])
    assert [c["kind"] for c in m[0]["cells"]] == ["self", "pair", "missing"]
    assert m[0]["cells"][1]["delta"] == 0.07 and m[1]["cells"][0]["delta"] == -0.07  # row − column
    assert m[0]["cells"][1]["mark"] == "**"
    from benchtrust.report.render import _cell_pts

    assert [_cell_pts(v) for v in (-0.0004, 0.0004, 0.0123, -0.07, None)] == ["+0.0", "+0.0", "+1.2", "-7.0", "—"]


@pytest.fixture
def two_versions(tmp_path: Path) -> Path:
    # three models on dataset version d1, three on d2 (one with a hostile name): 9 pairs share no item
    return bpw.build(tmp_path / "w.duckdb", {"d1": ["m1", "m2", "m3"], "d2": ["m4", HOSTILE, "m6"]})


def test_page_with_two_dataset_versions_keeps_stability_and_label_errors(two_versions: Path, tmp_path: Path) -> None:
    [ix] = build_indexes(two_versions, tmp_path / "reports")
    assert [dv["dataset_version"] for dv in ix.dataset_versions] == ["d1", "d2"]
    assert all(dv["ranking_stability"] and dv["label_errors"] for dv in ix.dataset_versions)
    assert ix.dataset_versions[0]["label_errors"]["n_models"] == 3  # an integer, not 3.0 (DOUBLE in the mart)
    html = render_index_html(ix)
    assert html.count("Dataset version <code>d1</code>") == 2 and html.count("Dataset version <code>d2</code>") == 2
    assert html.count('class="rank-probabilities"') == 2 and html.count('class="label-error-candidates"') == 2
    assert html.count("across 3 models") == 2 and "across 3.0 models" not in html
    # 6 × 6 matrix: 9 cross-version pairs greyed on both sides, never with a p-value
    grey = re.findall(r'<td class="cell none" title="([^"]*)">([^<]*)</td>', html)
    assert len(grey) == 18 and all(t == "no shared items" and "p =" not in title for title, t in grey)
    assert len(re.findall(r'<td class="cell pair', html)) == 12 and html.count('class="cell self"') == 6
    assert "18 with no shared items" not in html and "9 with no shared items" in html
    # untrusted model names are text
    assert HOSTILE not in html and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    md = render_index_markdown(ix)
    assert md.count("no shared items") >= 18 and "Ranking stability (dataset version `d2`)" in md
    assert "McNemar p 1.000" not in md


def test_300_model_page_uses_no_exact_search(tmp_path: Path) -> None:
    """Issue 11: the pair section of a 300-model page at HELM's n formats the mart's normal-approximation MDE
    instead of 44,850 exact root searches (~25 ms each, 19 min). The time is measured by
    benchmarks/benchmark_page.py (recorded in benchmarks/results/benchmark_page.json), not asserted here."""
    path = bpw.build_large(tmp_path / "w300.duckdb", n_models=300, n_items=14_014)
    ch._mde.cache_clear()
    [ix] = build_indexes(path, tmp_path / "reports")
    assert len(ix.comparisons) == 300 * 299 // 2 and len(ix.rows) == 300
    assert ix.mde_methods == [METHOD_NORMAL] and ch._mde.cache_info().misses == 0
    assert all(c["mde"] == c["mde_normal"] for c in ix.comparisons)


def test_report_defects_spread_na_clipped_text_duplicates(tmp_path: Path) -> None:
    h = {
        "model": "m",
        "benchmark": "b",
        "report_version": "rv",
        "dataset_version": "dv",
        "accuracy": 0.5,
        "ci_low": 0.4,
        "ci_high": 0.6,
        "n_correct": 10,
        "n_scored": 20,
        "n_items": 20,
        "benchmark_items": 14042,
        "n_templates": 1,
        "prompt_spread": 0.0,
        "template_acc_min": 0.5,
        "template_acc_max": 0.5,
        "n_duplicate_items": 1,
        "n_quarantined": 3,
        "headline_template": "t",
        "ci_method": "wilson",
    }
    long_text = "Q" * 700 + HOSTILE
    item = {
        "item_id": "i1",
        "input": long_text,
        "choices": ["yes", "no"],
        "gold": "G" * 80,
        "prediction": "A",
        "is_correct": True,
    }
    b = ReportBundle(headline=h, templates=[], provenance={}, quarantine=[], sample_items=[item])
    html = render_html(b)
    spread = re.search(r'id="prompt-spread">(.*?)</p>', html)
    assert spread and "n/a" in spread.group(1) and "over 1 templates" not in html
    verdict = next(v for v in b.verdicts if v["audit"] == "prompt_spread")
    assert verdict["status"] == "n/a"
    assert "Q" * 599 + "…" in html and "full text (" in html and "<details" in html  # clipped with a cue
    assert HOSTILE not in html and "G" * 59 + "…" in html and 'title="' + "G" * 80 + '"' in html
    dup = re.search(r'id="quality-duplicates">(.*?)</li>', html)
    assert dup and "20 items run of the 14042" in dup.group(1) and "1 of the items run" in dup.group(1)
    assert next(v for v in b.verdicts if v["audit"] == "duplicates")["rule"]  # share of the items run
    assert "1 of the 20 items run" in str(next(v for v in b.verdicts if v["audit"] == "duplicates"))


def test_home_page_shows_n(two_versions: Path, tmp_path: Path) -> None:
    indexes = build_indexes(two_versions, tmp_path / "reports")
    html = write_home(tmp_path / "reports", indexes).read_text()
    assert '<th class="num">n</th>' in html and html.count('<td class="num">200</td>') == 6


def test_label_errors_audit_counts_models_as_integers(two_versions: Path) -> None:
    con = duckdb.connect(str(two_versions), read_only=True)
    try:
        le = wh.label_errors_audit(con, "bench", "d1")
    finally:
        con.close()
    assert le is not None and type(le["n_models"]) is int and le["n_models"] == 3


def test_a_models_report_plots_its_neighbourhood_not_every_model():
    """Per-report forest plots are bounded (the top models and the model's neighbours), so writing every model's
    report grows linearly in models; the benchmark page plots them all."""
    from benchtrust.report.plots import FOREST_AROUND, FOREST_TOP, forest_window

    rows = [
        {"model": f"m{i:03d}", "accuracy": i / 100, "ci_low": i / 100 - 0.01, "ci_high": i / 100 + 0.01}
        for i in range(100)
    ]
    rows.append({"model": "no-interval", "accuracy": 0.5, "ci_low": None, "ci_high": 0.6})
    shown, total = forest_window(rows, "m050")
    assert total == 100
    names = [r["model"] for r in shown]
    # best first: the top five, then ranks 45-55 around m050 (ranked 49th of 100 by accuracy, 0-based)
    assert names[:FOREST_TOP] == [f"m{i:03d}" for i in range(99, 99 - FOREST_TOP, -1)]
    assert names[FOREST_TOP:] == [f"m{i:03d}" for i in range(50 + FOREST_AROUND, 50 - FOREST_AROUND - 1, -1)]
    # the best model's window overlaps the top: no row twice
    top_shown, _ = forest_window(rows, "m099")
    assert len({r["model"] for r in top_shown}) == len(top_shown) == FOREST_AROUND + 1  # itself and 5 below
    # few models: all of them
    few, n = forest_window(rows[:8], "m003")
    assert n == 8 and len(few) == 8
