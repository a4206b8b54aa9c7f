"""One source of truth (issue 12 item 4): the reports format the marts and never recompute an audit.

One real `dbt build` on the synthetic lake of test_dbt_audits.py plus a small ranking case whose bootstrap
distribution is known exactly, then the real report writer (benchtrust.report.render.publish). For every report
version on disk, every calibration and ranking-stability figure the report shows (JSON value, HTML cell, Markdown
text) is compared with the mart row of the same report version; the ranking-stability mart is compared with
benchtrust.audits.leaderboard_stability run on the lake in pandas, and with exact reference values.
"""

from __future__ import annotations

import html as html_lib
import itertools
import json
import os
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchtrust.report.render import _num, _p, _pct, index_dir, publish
from tests.integration.test_dbt_audits import (
    NUMERIC,
    T0,
    _items,
    _lake_frames,
    _log_softmax,
    _mc_cell,
    _write_items,
    build_lake,
)
from tests.integration.test_dbt_build import dbt_build, write_predictions

KEY = ["model", "model_version", "benchmark", "dataset_version", "grid_version"]
# the exact case: three models on 12 items, correctness patterns (A, B, C): (1,0,0) × 5, (0,1,0) × 4, (0,0,0) × 3
RANKREF = {"A": [1] * 5 + [0] * 7, "B": [0] * 5 + [1] * 4 + [0] * 3, "C": [0] * 12}


def _rankref_case(lk: Path) -> None:
    rng = np.random.default_rng(5)
    items = _items("rankref", "rankref-dv1", rng, 12, 1, quality_cases=False)
    _write_items(lk, items)
    rows = []
    for model, correct in RANKREF.items():
        for j, it in items.iterrows():
            gi = it["gold_index"]
            z = np.zeros(len(it["choices"]))
            z[gi if correct[j] else (gi + 1) % len(z)] = 2.0
            rows.append(
                _mc_cell(
                    bench="rankref",
                    dv="rankref-dv1",
                    model=model,
                    mv="v1",
                    grid="g1",
                    item=it,
                    template="t0",
                    fs=0,
                    perm=0,
                    numeric=NUMERIC[0],
                    lp=_log_softmax(z),
                    headline_template="t0",
                )
            )
    write_predictions(lk, rows, written_at=T0)


@pytest.fixture(scope="module")
def published(tmp_path_factory, dbt_manifest):
    home = tmp_path_factory.mktemp("report_marts") / "bt_home"
    saved = {k: os.environ.get(k) for k in ("BENCHTRUST_HOME", "BENCHTRUST_LAKE", "BENCHTRUST_WAREHOUSE")}
    os.environ["BENCHTRUST_HOME"] = str(home)
    try:
        from benchtrust.settings import get_settings

        settings = get_settings().ensure()
        build_lake(settings.lake)
        _rankref_case(settings.lake)
        dbt_build()
        pub = publish(settings.warehouse, settings.reports, lake=settings.lake)
        con = duckdb.connect(str(settings.warehouse), read_only=True)
        yield con, pub, settings
        con.close()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _reports(settings) -> list[tuple[dict, Path]]:
    """(report.json, folder) of every report version on disk."""
    return [(json.loads(p.read_text()), p.parent) for p in sorted(settings.reports.glob("*/*/*/report.json"))]


def _cell(html: str, cell_id: str) -> str:
    m = re.search(rf'<td class="num" id="{cell_id}">(.*?)</td>', html, re.S)
    assert m, f"no cell {cell_id}"
    return html_lib.unescape(m.group(1)).strip()


def _same(a, b) -> bool:
    if a is None or b is None or (isinstance(b, float) and np.isnan(b)):
        return (a is None or (isinstance(a, float) and np.isnan(a))) and (
            b is None or (isinstance(b, float) and np.isnan(b))
        )
    return a == b


# ---------------------------------------------------------------------- every figure shown = the mart's value


def _check_position_bias(pb: dict | None, m: dict | None, folder: Path) -> None:
    """The answer-position section: the position columns of the same marts.calibration row; the p-value is
    scipy's χ² survival function of the row's position_chi2 and position_df (the mart leaves it to scipy)."""
    if m is None or not sum(m["n_by_position"] or []):
        assert pb is None
        return
    assert pb["source"] == "marts.calibration"
    assert (
        pb["pred_counts"],
        pb["gold_counts"],
        pb["n_by_position"],
        pb["dof"],
        pb["n_unparsed"],
        pb["n_options"],
    ) == (m["pred_counts"], m["gold_counts"], m["n_by_position"], m["position_df"], m["n_unparsed"], m["n_options"])
    assert all(_same(a, b) for a, b in zip(pb["accuracy_by_position"], m["accuracy_by_position"]))
    chi2 = m["position_chi2"]
    if chi2 is not None and np.isinf(chi2):
        assert pb["chi2"] is None and pb["p_value"] == 0.0
    elif chi2 is not None:
        assert pb["chi2"] == chi2 and pb["p_value"] == stats.chi2.sf(chi2, m["position_df"])
    page = html_lib.unescape((folder / "report.html").read_text())
    assert f"χ² = {_num(pb['chi2'], 2)}, {m['position_df']} df, p = {_p(pb['p_value'])}" in page
    for i in range(m["n_options"]):
        assert (
            f'<td>{"ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i]}</td><td class="num">{m["pred_counts"][i]}</td>'
            f'<td class="num">{m["gold_counts"][i]}</td><td class="num">{_pct(m["accuracy_by_position"][i])}</td>'
        ) in page


def _check_calibration(con, data: dict, folder: Path) -> int:
    h = data["headline"]
    cur = con.execute(
        "select * from marts.calibration where model = ? and model_version = ? and benchmark = ? "
        "and dataset_version = ? and grid_version = ?",
        [h[k] for k in KEY],
    )
    rows = [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]
    assert len(rows) <= 1
    _check_position_bias(data["audits"]["position_bias"], rows[0] if rows else None, folder)
    cal = data["audits"]["calibration"]
    if not rows or not rows[0]["n_with_confidence"]:
        assert cal is None
        return 0
    m = rows[0]
    assert cal["source"] == "marts.calibration"
    for col in (
        "n_cells",
        "n_with_confidence",
        "ece",
        "brier_top_label",
        "brier",
        "auroc",
        "mean_confidence",
        "accuracy_with_confidence",
        "n_bins",
    ):
        assert _same(cal[col], m[col]), (folder, col)
    assert cal["n"] == m["n_with_confidence"]
    assert [b["count"] for b in cal["bins"]] == list(m["bin_counts"])
    for b, acc, conf in zip(cal["bins"], m["bin_accuracy"], m["bin_confidence"]):
        assert _same(b["accuracy"], acc) and _same(b["confidence"], conf)
    # the verdict names the top-label Brier (the one that goes with the ECE), from the same row
    verdict = next(v for v in data["verdicts"] if v["audit"] == "calibration")
    if verdict["status"] != "n/a":
        assert verdict["value"] == m["ece"] and verdict["shown"] == f"ECE = {m['ece']:.3f}"
        assert verdict["detail"] == f"top-label Brier = {m['brier_top_label']:.3f}, n = {m['n_with_confidence']}"
    # HTML: each calibration cell is the mart value, the two Brier scores under their own names
    page = (folder / "report.html").read_text()
    assert _cell(page, "cal-ece") == _num(m["ece"])
    assert _cell(page, "cal-brier-top-label") == _num(m["brier_top_label"])
    assert _cell(page, "cal-brier-gold") == _num(m["brier"])
    assert _cell(page, "cal-auroc") == _num(m["auroc"])
    assert (
        _cell(page, "cal-confidence-accuracy")
        == f"{_pct(m['mean_confidence'])} / {_pct(m['accuracy_with_confidence'])}"
    )
    assert _cell(page, "cal-n").startswith(str(m["n_with_confidence"]))
    assert "Brier, top label" in page and "Brier, gold option" in page
    md = (folder / "report.md").read_text()
    assert (
        f"Calibration: ECE {_num(m['ece'])}, top-label Brier {_num(m['brier_top_label'])}, gold-option Brier "
        f"{_num(m['brier'])}, AUROC {_num(m['auroc'])} on {m['n_with_confidence']} items "
        f"(mean confidence {_pct(m['mean_confidence'])}, accuracy {_pct(m['accuracy_with_confidence'])})."
    ) in md
    return 1


def _check_ranking_stability(con, ix, folder: Path) -> int:
    data = json.loads((folder / "index.json").read_text())
    rs = data["ranking_stability"]
    versions = {r["dataset_version"] for r in data["models"]}
    mart = con.execute(
        "select * from marts.ranking_stability where benchmark = ? order by rank, model", [ix.benchmark]
    ).df()
    if len(versions) != 1 or mart.empty:
        assert rs is None
        return 0
    mart = mart[mart["dataset_version"] == versions.pop()]
    # the same report versions: the mart resampled exactly the reports this page lists
    assert dict(zip(mart["model"], mart["report_version"])) == {r["model"]: r["report_version"] for r in data["models"]}
    assert rs["report_versions"] == dict(zip(mart["model"], mart["report_version"]))
    m0 = mart.iloc[0]
    assert rs["source"] == "marts.ranking_stability"
    for k, col in [
        ("n_items", "n_items"),
        ("reps", "reps"),
        ("seed", "seed"),
        ("leader", "leader"),
        ("tau_mean", "tau_mean"),
        ("p_top1_change", "p_top1_change"),
        ("n_items_dropped", "n_items_dropped"),
    ]:
        assert _same(rs[k], m0[col].item() if hasattr(m0[col], "item") else m0[col]), k
    assert rs["tau_quantiles"] == [m0["tau_q025"], m0["tau_median"], m0["tau_q975"]]
    assert [r["model"] for r in rs["rank_probabilities"]] == list(mart["model"])
    for r, (_, m) in zip(rs["rank_probabilities"], mart.iterrows()):
        for col in ("accuracy", "rank", "p_top1", "mean_rank", "rank_q025", "rank_q975"):
            assert r[col] == m[col], col
        assert rs["lomo_leader_flips"][r["model"]] == m["lomo_p_top1_change"]
    page = (folder / "index.html").read_text()
    lo, hi = (_num(m0["tau_q025"]), _num(m0["tau_q975"])) if pd.notna(m0["tau_q025"]) else ("—", "—")
    assert (
        f"keeps Kendall τ = {_num(m0['tau_mean'] if pd.notna(m0['tau_mean']) else None)} on average "
        f"(95% of resamples between {lo} and {hi}); another model takes the top in "
        f"<b>{_pct(m0['p_top1_change'])}</b>"
    ) in page
    assert f"Leader <b>{html_lib.escape(m0['leader'])}</b>" in page
    table = re.search(r'<table[^>]*\bid="rank-probabilities"[^>]*>(.*?)</table>', page, re.S).group(1)
    shown = [
        [html_lib.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table)
        if "<td" in row
    ]
    expected = [
        [
            str(m["rank"]),
            m["model"],
            _pct(m["accuracy"]),
            _pct(m["p_top1"]),
            _num(m["mean_rank"], 2),
            f"{m['rank_q025']:g} – {m['rank_q975']:g}",
            _pct(m["lomo_p_top1_change"]),
        ]
        for _, m in mart.iterrows()
    ]
    assert shown == expected
    md = (folder / "index.md").read_text()
    for _, m in mart.iterrows():
        assert (
            f"| {m['model']} | {_pct(m['p_top1'])} | {_num(m['mean_rank'], 2)} | {m['rank_q025']:g} – "
            f"{m['rank_q975']:g} | {_pct(m['lomo_p_top1_change'])} |"
        ) in md
    return 1


def _check_label_errors(con, le: dict | None, benchmark: str, dataset_version: str, page: str, md: str) -> int:
    """The label-error section of a report or benchmark page against marts.item_audit's rows of the same
    benchmark × dataset version (label_error_posterior, its rank, the suggested answer, the votes)."""
    cur = con.execute(
        "select * from marts.item_audit where benchmark = ? and dataset_version = ? and "
        "label_error_posterior_rank is not null order by label_error_posterior_rank",
        [benchmark, dataset_version],
    )
    rows = [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]
    if not rows:
        assert le is None
        return 0
    assert le["source"] == "marts.item_audit" and le["n_items"] == len(rows)
    assert le["n_candidates"] == sum(r["label_error_posterior"] >= 0.5 for r in rows)
    assert le["n_agreement_candidates"] == sum(bool(r["is_label_error_candidate"]) for r in rows)
    assert [c["item_id"] for c in le["candidates"]] == [r["item_id"] for r in rows[: len(le["candidates"])]]
    gold = dict(
        con.execute(
            "select item_id, gold from staging.stg_lake__items where benchmark = ? and dataset_version = ?",
            [benchmark, dataset_version],
        ).fetchall()
    )
    for c, r in zip(le["candidates"], rows):
        assert (c["rank"], c["posterior"], c["suggested_answer"]) == (
            r["label_error_posterior_rank"],
            r["label_error_posterior"],
            r["suggested_answer"],
        )
        assert c["votes"] == json.loads(r["label_error_votes"]) and c["gold"] == gold[r["item_id"]]
    assert (
        f"{le['n_candidates']} of {le['n_items']} items" in page
        and f"{le['n_candidates']} of {le['n_items']} items" in md
    )
    table = re.search(r'<table[^>]*\bid="label-error-candidates"[^>]*>(.*?)</table>', page, re.S)
    if le["candidates"]:
        shown = [
            [
                html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            ][:5]
            for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
            if "<td" in row
        ]
        assert shown == [
            [
                str(r["label_error_posterior_rank"]),
                r["item_id"] + (r["subject"] or ""),
                gold[r["item_id"]] or "",
                r["suggested_answer"] or "—",
                _num(r["label_error_posterior"]),
            ]
            for r in rows[: len(le["candidates"])]
        ]
    return 1


def test_every_audit_figure_in_the_reports_is_the_marts_value(published):
    con, pub, settings = published
    reports = _reports(settings)
    assert len(reports) == con.execute("select count(*) from marts.report_versions").fetchone()[0]
    # calibration: every report version (latest or not) against the marts.calibration row of its key
    n_cal = sum(_check_calibration(con, data, folder) for data, folder in reports)
    assert n_cal >= 8  # the random benchmarks' models and versions all carry option log-probabilities
    # ranking stability: every benchmark page against the marts.ranking_stability rows of its report versions
    n_rs = sum(_check_ranking_stability(con, ix, index_dir(settings.reports, ix)) for ix in pub.indexes)
    # rand0, rand2 and rankref; rand1's latest reports span two dataset versions (m0 moved to rand1-dv2), so its
    # page shows no ranking (the mart still ranks the three models on rand1-dv1); one-model benchmarks have none
    assert n_rs == 3
    # label errors (issue 12 item 1): each report's and each benchmark page's section against marts.item_audit
    n_le = 0
    for data, folder in reports:
        h = data["headline"]
        n_le += _check_label_errors(
            con,
            data["audits"].get("label_errors"),
            h["benchmark"],
            h["dataset_version"],
            (folder / "report.html").read_text(),
            (folder / "report.md").read_text(),
        )
    for ix in pub.indexes:
        folder = index_dir(settings.reports, ix)
        data = json.loads((folder / "index.json").read_text())
        versions = {r["dataset_version"] for r in data["models"]}
        if len(versions) == 1:
            n_le += _check_label_errors(
                con,
                data["label_errors"],
                ix.benchmark,
                versions.pop(),
                (folder / "index.html").read_text(),
                (folder / "index.md").read_text(),
            )
    assert n_le >= 3


# --------------------------------------------------------------------------- the mart against the Python audit


def test_ranking_stability_mart_is_leaderboard_stability_on_the_lake(published):
    """The mart's numbers are benchtrust.audits.leaderboard_stability's on the same answers, read here from the
    lake with pandas (latest model version by write time, headline cells), not through the warehouse."""
    from benchtrust.audits.ranking import leaderboard_stability

    con, _, settings = published
    preds, _ = _lake_frames(settings)
    head = preds[preds["is_headline"]]
    latest = (
        head.groupby(["model", "benchmark", "model_version", "dataset_version"], as_index=False)["written_at"]
        .max()
        .sort_values(["written_at", "dataset_version"], ascending=[False, True])
        .drop_duplicates(["model", "benchmark"])
    )
    answers = head.merge(latest[["model", "benchmark", "model_version", "dataset_version"]])
    mart = con.execute("select * from marts.ranking_stability order by benchmark, rank, model").df()
    checked = 0
    for (bench, dv), g in answers.groupby(["benchmark", "dataset_version"]):
        rows = mart[(mart["benchmark"] == bench) & (mart["dataset_version"] == dv)]
        if g["model"].nunique() < 2:
            assert rows.empty
            continue
        st = leaderboard_stability(
            g[["model", "item_id", "is_correct"]], reps=int(rows["reps"].iloc[0]), seed=int(rows["seed"].iloc[0])
        )
        assert (int(rows["reps"].iloc[0]), int(rows["seed"].iloc[0])) == (10_000, 0)
        assert rows["leader"].eq(st.leader).all() and rows["n_items"].eq(st.n_items).all()
        assert rows["tau_mean"].iloc[0] == st.tau_mean and rows["p_top1_change"].iloc[0] == st.p_top1_change
        assert tuple(rows[["tau_q025", "tau_median", "tau_q975"]].iloc[0]) == st.tau_quantiles
        rp = st.rank_probabilities
        assert list(rows["model"]) == list(rp["model"])
        for col in ("accuracy", "rank", "p_top1", "mean_rank", "rank_q025", "rank_q975"):
            assert np.array_equal(rows[col].to_numpy(dtype=float), rp[col].to_numpy(dtype=float)), col
        assert [st.lomo_leader_flips[m] for m in rows["model"]] == list(rows["lomo_p_top1_change"])
        assert rows["is_leader"].sum() == 1 and rows.loc[rows["is_leader"], "model"].item() == st.leader
        checked += 1
    assert checked == 4


def test_ranking_stability_matches_the_exact_bootstrap_distribution(published):
    """rankref: with 12 items the bootstrap distribution is a Multinomial(12; 5/12, 4/12, 3/12) over the three
    correctness patterns, so P(top 1), the mean rank and the mean Kendall τ-b (scipy.stats.kendalltau) can be
    summed exactly; the mart's 10,000 seeded resamples must land within Monte Carlo error (≈ 4 SE)."""
    con, _, _ = published
    rows = con.execute("select * from marts.ranking_stability where benchmark = 'rankref' order by model").df()
    assert list(rows["model"]) == ["A", "B", "C"] and rows["n_items"].eq(12).all()
    probs = [5 / 12, 4 / 12, 3 / 12]
    full = np.array([5, 4, 0]) / 12
    p_b_wins = mean_rank_a = tau_sum = tau_weight = 0.0
    for a, b in itertools.product(range(13), repeat=2):
        if a + b > 12:
            continue
        w = stats.multinomial.pmf([a, b, 12 - a - b], 12, probs)
        p_b_wins += w * (b > a)
        mean_rank_a += w * (2 if b > a else 1)  # ties go to the first model (A)
        tau = stats.kendalltau(full, [a / 12, b / 12, 0.0]).statistic
        if np.isfinite(tau):
            tau_sum, tau_weight = tau_sum + w * tau, tau_weight + w
    r = rows.set_index("model")
    assert r.loc["A", "p_top1_change"] == pytest.approx(p_b_wins, abs=0.02)
    assert r.loc["B", "p_top1"] == pytest.approx(p_b_wins, abs=0.02)
    assert r.loc["A", "p_top1"] + r.loc["B", "p_top1"] == pytest.approx(1.0) and r.loc["C", "p_top1"] == 0
    assert r.loc["A", "mean_rank"] == pytest.approx(mean_rank_a, abs=0.02) and r.loc["C", "mean_rank"] == 3
    assert r.loc["A", "tau_mean"] == pytest.approx(tau_sum / tau_weight, abs=0.03)
    # leaving C out leaves the A-vs-B contest; leaving A or B out leaves a leader C can never pass
    assert r.loc["C", "lomo_p_top1_change"] == pytest.approx(p_b_wins, abs=0.02)
    assert r.loc["A", "lomo_p_top1_change"] == 0 and r.loc["B", "lomo_p_top1_change"] == 0
    assert (r.loc["A", "rank_q025"], r.loc["A", "rank_q975"], r.loc["C", "rank_q025"]) == (1, 2, 3)
    assert 0.05 < p_b_wins < 0.5  # the case is not degenerate


def test_calibration_mart_diagram_briers_and_positions_match_python(published):
    """The columns the reports now read from marts.calibration: the reliability diagram, both Brier scores and
    the answer-position counts, χ² and its p-value (ECE and AUROC are checked in test_dbt_audits.py) against
    benchtrust.stats (answer_position_bias uses scipy.stats.chisquare)."""
    from benchtrust.report.bundle import softmax_confidence
    from benchtrust.stats import answer_position_bias, brier_score, reliability_table

    con, _, settings = published
    preds, items = _lake_frames(settings)
    n_pb = 0
    scored = preds[preds["is_headline"] & (preds["task_type"] == "multiple_choice") & preds["is_correct"].notna()]
    mart = con.execute("select * from marts.calibration where n_with_confidence > 0").df()
    assert len(mart) >= 8
    for _, m in mart.iterrows():
        every = scored[
            (scored["model"] == m["model"])
            & (scored["model_version"] == m["model_version"])
            & (scored["benchmark"] == m["benchmark"])
            & (scored["dataset_version"] == m["dataset_version"])
        ]
        g = every[every["predicted_index"].notna()]  # a confidence needs a chosen option
        conf = g["option_logprobs"].map(softmax_confidence).to_numpy(dtype=float)
        y = g["is_correct"].astype(bool).to_numpy()
        t = reliability_table(conf, y, 10)
        assert list(m["bin_counts"]) == t.count.tolist() and sum(m["bin_counts"]) == m["n_with_confidence"]
        for got, want in [(m["bin_accuracy"], t.accuracy), (m["bin_confidence"], t.confidence)]:
            got = np.ma.filled(np.ma.masked_invalid(np.ma.asarray(got, dtype=float)), np.nan)
            assert np.allclose(got, want, rtol=0, atol=1e-12, equal_nan=True)
        assert m["brier_top_label"] == pytest.approx(brier_score(conf, y), abs=1e-12)
        assert m["accuracy_with_confidence"] == pytest.approx(y.mean(), abs=1e-12)
        gold = every[every["p_correct"].notna()]  # the gold-option Brier: every scored cell with a p(gold)
        p_gold, y_gold = gold["p_correct"].to_numpy(dtype=float), gold["is_correct"].to_numpy(dtype=float)
        assert m["brier"] == pytest.approx(np.mean((p_gold - y_gold) ** 2), abs=1e-12)
        assert m["brier"] != pytest.approx(m["brier_top_label"])  # two different scores, two names
        # the answer-position columns the reports now read: benchtrust.stats.answer_position_bias on the same cells
        golds = items.set_index(["benchmark", "dataset_version", "item_id"])["gold_index"]
        gi = golds.reindex(pd.MultiIndex.from_frame(every[["benchmark", "dataset_version", "item_id"]])).to_numpy()
        has_gold = ~pd.isna(gi) & (np.nan_to_num(gi.astype(float), nan=-1) >= 0)
        pred = every["predicted_index"].fillna(-1).astype(int).to_numpy()[has_gold]
        ref = answer_position_bias(pred, gi[has_gold].astype(int), int(m["n_options"]))
        assert list(m["pred_counts"]) == ref.pred_counts.tolist() and list(m["gold_counts"]) == ref.gold_counts.tolist()
        assert m["position_df"] == ref.dof and (
            m["position_chi2"] == pytest.approx(ref.chi2, rel=1e-12)
            or (np.isinf(ref.chi2) and np.isinf(m["position_chi2"]))
        )
        assert stats.chi2.sf(m["position_chi2"], m["position_df"]) == pytest.approx(ref.p_value, rel=1e-9, abs=1e-300)
        n_pb += 1
    assert n_pb >= 8
