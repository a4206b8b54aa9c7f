"""How well do model-agreement label-error candidates find the items experts flagged?

Candidates: :func:`benchtrust.audits.label_error_candidates` over the 10 HELM models' MMLU predictions
(``helm_mmlu/helm_10models_mmlu_item_matrix.csv``, imported with ``benchtrust.importers``; 14,014 items
with a gold).  Reference: the MMLU-Redux v2 expert labels (``mmlu_redux/redux_v2_5700_from_HEAD_with_
mmlu_index.csv``; 57 subjects × 100 items; aryopg/mmlu-redux, CC-BY-4.0), joined on (subject,
mmlu_test_index).

Protocol.  The score was chosen on the **30 MMLU-Redux v1 subjects** (``v1_subject_list.json``, the
``dev`` split; the variants compared there are recorded under ``dev_variants``) and is reported, unchanged,
on the **other 27 subjects** (``held_out``).  Per split:

- universe = the labelled items of the split's subjects that HELM has (the ranking is the candidate
  order restricted to them — only labelled items can be judged);
- positives = ``wrong_groundtruth``, and separately any label other than ``ok``;
- precision@k = labelled positives among the top k of the universe / k;
- recall@k = those hits / **all** labelled positives of the split's subjects, including the few labelled
  items HELM lacks (so a positive HELM never saw counts as missed);
- random baseline = k items drawn uniformly from the universe: precision = prevalence in the
  universe, recall ≈ k / universe size; ``p_value`` = hypergeometric P(hits ≥ observed) under that draw;
- ``expected_precision`` treats the order inside tied scores as random (the cut-off can split a tie).

Issue 12: the latent-truth posterior (:func:`benchtrust.audits.label_error_posteriors`: one-coin Dawid–Skene,
GLAD and MACE from crowd-kit with the gold key as one more annotator, ranks averaged) against the naive baseline
("how many models agree on the same non-gold letter", ties broken in expectation), the current score and a
random ranking, all computed here on the same items (``comparison``). The split is written below
(``DEV_SUBJECTS``, the 30 v1 subjects; held-out = the other 27) and was fixed before the posterior was tuned;
the combination (which aggregators, gold as annotator, rank averaging) was chosen on ``dev`` only
(``comparison.dev_variants``). Intervals: 95 % percentile bootstrap over the labelled items of the split
(``BOOTSTRAP`` resamples, seed 0), the same resamples for every ranker, so ``method − naive`` is paired.
``comparison.<split>.ceiling`` says how far any ranking of these letters can go.

    python benchmarks/label_errors.py [--external PATH]

Writes ``benchmarks/results/label_errors.json``; ``tests/external/test_label_errors.py`` recomputes the
figures and checks them against that file and against the random baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchtrust.audits import (  # noqa: E402
    label_error_candidates,
    label_error_posteriors,
    precision_recall_at_k,
)
from benchtrust.importers import import_predictions  # noqa: E402

EXTERNAL = ROOT.parent / "shared" / "external-data"
HELM = "helm_mmlu/helm_10models_mmlu_item_matrix.csv"
REDUX_V2 = "mmlu_redux/redux_v2_5700_from_HEAD_with_mmlu_index.csv"
REDUX_14 = "mmlu_redux/_joined_14models_5700items.csv"
V1_SUBJECTS = "mmlu_redux/v1_subject_list.json"
KS = (100, 300)
RESULT = ROOT / "benchmarks" / "results" / "label_errors.json"
# the dev / held-out split, fixed before the posterior was tuned: the 30 MMLU-Redux v1 subjects are dev
DEV_SUBJECTS = frozenset({
    "anatomy", "astronomy", "business_ethics", "clinical_knowledge", "college_chemistry", "college_computer_science",
    "college_mathematics", "college_medicine", "college_physics", "conceptual_physics", "econometrics",
    "electrical_engineering", "formal_logic", "global_facts", "high_school_chemistry", "high_school_geography",
    "high_school_macroeconomics", "high_school_mathematics", "high_school_physics", "high_school_statistics",
    "high_school_us_history", "human_aging", "logical_fallacies", "machine_learning", "miscellaneous", "philosophy",
    "professional_accounting", "professional_law", "public_relations", "virology",
})
COMPARE_KS = (50, 100, 300)
BOOTSTRAP = 2000


def average_precision(ranked: list[str], positives: set[str], n_positive: int) -> float:
    y = np.fromiter((r in positives for r in ranked), dtype=bool, count=len(ranked))
    if n_positive == 0:
        return float("nan")
    prec = np.cumsum(y) / np.arange(1, len(y) + 1)
    return float((prec * y).sum() / n_positive)


def _num(name: str, v: Any) -> Any:
    """Round for the JSON: 6 decimals, p-values to 4 significant digits (they are tiny)."""
    if not isinstance(v, float):
        return v
    return float(f"{v:.4g}") if name == "p_value" else round(v, 6)


def load_labels(external: Path) -> pd.DataFrame:
    lab = pd.read_csv(external / REDUX_V2, keep_default_na=False)
    return lab[["subject", "mmlu_test_index", "error_type"]].astype({"mmlu_test_index": int})


def _evaluate_split(
    cand: pd.DataFrame, labels: pd.DataFrame, subjects: set[str], score_cols: list[str]
) -> dict[str, Any]:
    lab = labels[labels["subject"].isin(subjects)]
    c = cand[cand["subject"].isin(subjects) & cand["mmlu_test_index"].notna()].copy()
    c["mmlu_test_index"] = c["mmlu_test_index"].astype(int)
    uni = c.merge(lab, on=["subject", "mmlu_test_index"], how="inner")  # keeps candidate order
    ranked = uni["item_id"].tolist()
    tie = list(zip(*[uni[s].round(12) for s in score_cols]))
    out: dict[str, Any] = {
        "subjects": len(subjects), "labelled_items": int(len(lab)), "universe": int(len(uni)),
        "labelled_items_missing_from_helm": int(len(lab) - len(uni)), "targets": {},
    }
    for name, positive in (("wrong_groundtruth", lambda e: e == "wrong_groundtruth"),
                           ("any_non_ok", lambda e: e != "ok")):
        n_pos = int(positive(lab["error_type"]).sum())
        pos_u = set(uni.loc[positive(uni["error_type"]), "item_id"])
        at = precision_recall_at_k(ranked, pos_u, KS, n_positive=n_pos, tie_key=tie)
        out["targets"][name] = {
            "n_positive": n_pos, "n_positive_in_universe": len(pos_u),
            "average_precision": round(average_precision(ranked, pos_u, n_pos), 6),
            "at": {str(r.k): {k: _num(k, v) for k, v in r.as_dict().items()} for r in at},
        }
    return out


def _variants(cand: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, list[str]]]:
    """Alternative orderings compared on the dev split when the score was chosen: name → (order, key)."""
    c = cand.assign(share_rejecting_gold=1.0 - cand["share_correct"])
    orders = {
        "score = share_top_alternative * (1 - share_correct), tie-break llr (chosen)": ["score", "llr"],
        "share rejecting the gold (1 - share_correct)": ["share_rejecting_gold"],
        "share on one alternative (consensus only)": ["share_top_alternative"],
        "llr (accuracy-weighted one-coin Dawid-Skene log-likelihood ratio)": ["llr"],
    }
    return {name: (c.sort_values(cols + ["item_id"], ascending=[False] * len(cols) + [True], kind="mergesort"), cols)
            for name, cols in orders.items()}


def _ranked_hits(score: np.ndarray, y: np.ndarray, weights: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected hits in the top ``k`` and positives, per row of ``weights`` (a resample's item counts).

    Items with equal ``score`` form a tie group taken in random order: the group the cut-off splits
    contributes its positive share of the places left (the expectation over tie-breaks)."""
    order = np.argsort(-score, kind="stable")
    s, yy = score[order], y[order].astype(float)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    w = weights[:, order]
    gw = np.add.reduceat(w, starts, axis=1)
    gy = np.add.reduceat(w * yy, starts, axis=1)
    cw = np.cumsum(gw, axis=1)
    cut = np.argmax(cw >= k, axis=1)  # the group holding the k-th unit
    rows = np.arange(len(w))
    before_w = cw[rows, cut] - gw[rows, cut]
    before_y = np.cumsum(gy, axis=1)[rows, cut] - gy[rows, cut]
    share = np.divide(gy[rows, cut], gw[rows, cut], out=np.zeros(len(w)), where=gw[rows, cut] > 0)
    return before_y + (k - before_w) * share, gy.sum(axis=1)


def _compare_split(scores: dict[str, np.ndarray], labels: pd.Series, ks: tuple[int, ...] = COMPARE_KS,
                   reps: int = BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """P@k / R@k of each ranker (higher score = more suspicious; NaN = unscored, ranked last) for the two targets,
    with 95 % item-bootstrap intervals and the paired difference of each ranker to ``naive``."""
    n = len(labels)
    rng = np.random.default_rng(seed)
    boot = rng.multinomial(n, np.full(n, 1.0 / n), size=reps).astype(float)
    weights = np.vstack([np.ones((1, n)), boot])  # row 0: the sample itself
    out: dict[str, Any] = {"items": n, "bootstrap": {"resamples": reps, "seed": seed, "interval": "95% percentile"}}
    targets = {"wrong_groundtruth": (labels == "wrong_groundtruth").to_numpy(),
               "any_non_ok": (labels != "ok").to_numpy()}
    for t, y in targets.items():
        res: dict[str, Any] = {"n_positive": int(y.sum())}
        est: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        for name, sc in scores.items():
            sc = np.where(np.isnan(sc), -np.inf, sc)
            for k in ks:
                hits, pos = _ranked_hits(sc, y, weights, k)
                est[(name, k)] = (hits / k, np.divide(hits, pos, out=np.full(len(pos), np.nan), where=pos > 0))
        for name in scores:
            res[name] = {}
            for k in ks:
                p, r = est[(name, k)]
                cell = {"P": round(float(p[0]), 4), "R": round(float(r[0]), 4)}
                if reps:
                    cell["P_ci"] = [round(float(v), 4) for v in np.nanpercentile(p[1:], [2.5, 97.5])]
                    cell["R_ci"] = [round(float(v), 4) for v in np.nanpercentile(r[1:], [2.5, 97.5])]
                if reps and name != "naive" and "naive" in scores:
                    pn, rn = est[("naive", k)]
                    cell["P_minus_naive"] = round(float(p[0] - pn[0]), 4)
                    cell["P_minus_naive_ci"] = [round(float(v), 4) for v in np.nanpercentile(p[1:] - pn[1:], [2.5, 97.5])]
                    cell["R_minus_naive"] = round(float(r[0] - rn[0]), 4)
                    cell["R_minus_naive_ci"] = [round(float(v), 4) for v in np.nanpercentile(r[1:] - rn[1:], [2.5, 97.5])]
                res[name][str(k)] = cell
        out[t] = res
    return out


def _fix_letter(v: Any) -> str:
    """Redux's ``correct_answer``: an option index (0-3) or a letter; '' when the experts gave none."""
    v = str(v).strip()
    if v in ("0", "1", "2", "3"):
        return "ABCD"[int(v)]
    return v if v in ("A", "B", "C", "D") else ""


def _ceiling(uni: pd.DataFrame, votes: pd.Series, k: int = 100) -> dict[str, Any]:
    """How far any ranking of the models' letters can go on the wrong_groundtruth items of a split.

    ``uni``: the split's labelled items (item_id, gold, error_type, fix, n_correct, n_top_alternative, n_invalid,
    n_models; NaN counts for items no model answered); ``votes``: item_id → {model: answer}."""
    wg = uni[uni["error_type"] == "wrong_groundtruth"]
    disagree = []
    fix_chosen = []
    for it, g, fx in wg[["item_id", "gold", "fix"]].itertuples(index=False):
        v = [a for a in votes.get(it, {}).values() if a is not None]
        disagree.append(sum(a != g for a in v))
        fix_chosen.append(sum(a == fx for a in v) if fx else None)
    d = np.array(disagree)
    with_fix = [c for c in fix_chosen if c is not None]
    # in-sample oracle over the vote-count signature: the best any score that depends only on
    # (models on gold, models on the top alternative, models elsewhere, invalid) could do on this very split
    sig = uni.assign(other=uni["n_models"] - uni["n_correct"] - uni["n_top_alternative"] - uni["n_invalid"])
    key = sig[["n_correct", "n_top_alternative", "other", "n_invalid"]].fillna(-1).astype(float).apply(tuple, axis=1)
    rate = (sig["error_type"] == "wrong_groundtruth").groupby(key).transform("mean").to_numpy()
    y = (sig["error_type"] == "wrong_groundtruth").to_numpy()
    hits, pos = _ranked_hits(rate, y, np.ones((1, len(y))), k)
    return {
        "wrong_groundtruth": int(len(wg)),
        "no_model_gives_another_valid_answer": int((d == 0).sum()),
        "at_most_2_models_disagree": int((d <= 2).sum()),
        "models_disagreeing_histogram": {str(i): int((d == i).sum()) for i in range(int(d.max()) + 1)} if len(d) else {},
        "experts_give_a_fix": len(with_fix),
        "no_model_gives_the_experts_fix": int(sum(c == 0 for c in with_fix)),
        "max_recall_any_ranking": round(float((d > 0).mean()), 4) if len(d) else None,
        f"oracle_R@{k}_vote_count_signature_in_sample": round(float(hits[0] / pos[0]), 4) if pos[0] else None,
        "items_all_models_reject_gold": int(((uni["n_correct"] == 0) & (uni["n_models"] - uni["n_invalid"] > 0)).sum()),
        "of_which_wrong_groundtruth": int(((uni["n_correct"] == 0) & (uni["n_models"] - uni["n_invalid"] > 0)
                                           & (uni["error_type"] == "wrong_groundtruth")).sum()),
        "of_which_ok": int(((uni["n_correct"] == 0) & (uni["n_models"] - uni["n_invalid"] > 0)
                            & (uni["error_type"] == "ok")).sum()),
    }


def compare(predictions: pd.DataFrame, labels_v2: pd.DataFrame, reps: int = BOOTSTRAP) -> dict[str, Any]:
    """Posterior vs naive vs current score vs random, per split (``DEV_SUBJECTS`` / the rest), with the ceiling."""
    post = label_error_posteriors(predictions)
    cand = label_error_candidates(predictions)
    items = predictions.groupby("item_id")[["subject", "mmlu_test_index"]].first()
    post = post.join(items, on="item_id")
    cand = cand.set_index("item_id")
    post["naive"] = post["item_id"].map(cand["n_top_alternative"])
    post["n_invalid"] = post["item_id"].map(cand["n_invalid"])
    cur_rank = post["item_id"].map(cand["rank"])
    lab = labels_v2.copy()
    lab["fix"] = lab["correct_answer"].map(_fix_letter) if "correct_answer" in lab.columns else ""
    post = post[post["mmlu_test_index"].notna()].astype({"mmlu_test_index": int})
    m = lab.merge(post.assign(current=-cur_rank.loc[post.index].to_numpy(dtype=float)),
                  on=["subject", "mmlu_test_index"], how="left")
    votes = {it: json.loads(v) for it, v in zip(post["item_id"], post["votes"])}
    out: dict[str, Any] = {"method": "label_error_posteriors: mean rank under one-coin Dawid-Skene, GLAD, MACE "
                                     "(crowd-kit; gold key as an annotator); ties: most models on one alternative",
                           "naive": "models agreeing on the same non-gold letter; ties in expectation",
                           "current": "label_error_candidates score (share on one alternative x share rejecting gold)",
                           "random": "a uniformly random order (one tie group)"}
    for split, mask in (("dev", m["subject"].isin(DEV_SUBJECTS)), ("held_out", ~m["subject"].isin(DEV_SUBJECTS))):
        s = m[mask].reset_index(drop=True)
        scores = {"method": -s["rank"].to_numpy(dtype=float), "naive": s["naive"].to_numpy(dtype=float),
                  "current": s["current"].to_numpy(dtype=float), "random": np.zeros(len(s))}
        if split == "dev":  # the variants the combination was chosen from (dev only)
            p_cols = [c for c in s.columns if c.startswith("posterior_")]
            variants = {c: s[c].to_numpy(dtype=float) for c in p_cols}
            variants["mean posterior"] = s["label_error_posterior"].to_numpy(dtype=float)
            variants["mean rank (chosen)"] = scores["method"]
            variants["naive"] = scores["naive"]
            out["dev_variants"] = {}
            for name, sc in variants.items():
                v = _compare_split({name: sc}, s["error_type"], ks=(100,), reps=0)
                out["dev_variants"][name] = {"wrong_groundtruth_R@100": v["wrong_groundtruth"][name]["100"]["R"],
                                             "any_non_ok_P@100": v["any_non_ok"][name]["100"]["P"]}
        out[split] = _compare_split(scores, s["error_type"], reps=reps)
        out[split]["subjects"] = int(s["subject"].nunique())
        # is the posterior a probability of what the experts say? (it assumes independent annotators)
        scored = s[s["label_error_posterior"].notna()]
        bins = pd.cut(scored["label_error_posterior"], [0.0, 0.1, 0.5, 0.9, 0.99, 1.0], include_lowest=True)
        out[split]["posterior_calibration"] = [
            {"bin": str(iv), "items": int(len(g)), "mean_posterior": round(float(g["label_error_posterior"].mean()), 4),
             "wrong_groundtruth_rate": round(float((g["error_type"] == "wrong_groundtruth").mean()), 4),
             "any_non_ok_rate": round(float((g["error_type"] != "ok").mean()), 4)}
            for iv, g in scored.groupby(bins, observed=True)]
        out[split]["ceiling"] = _ceiling(s.rename(columns={"gold_x": "gold"}) if "gold_x" in s else s, votes)
    return out


def evaluate(external: Path = EXTERNAL) -> dict[str, Any]:
    """All figures of ``label_errors.json`` (deterministic: no timestamps, no randomness)."""
    external = Path(external)
    imp = import_predictions("helm", external / HELM)
    cand = label_error_candidates(imp.predictions)
    labels = load_labels(external)
    v1 = set(json.loads((external / V1_SUBJECTS).read_text()))
    all_subj = set(labels["subject"])
    held = all_subj - v1
    score_cols = ["score", "llr"]
    result: dict[str, Any] = {
        "candidates": {
            "source": HELM, "models": imp.models, "items_scored": int(len(cand)),
            "is_candidate": int(cand["is_candidate"].sum()),
            "score": "share_top_alternative * (1 - share_correct); ties: llr, then item_id",
        },
        "labels": {"source": REDUX_V2, "items": int(len(labels)),
                   "counts": labels["error_type"].value_counts().sort_index().to_dict()},
        "protocol": {
            "dev_subjects": "the 30 MMLU-Redux v1 subjects (v1_subject_list.json): score chosen here",
            "held_out_subjects": "the other 27 subjects: reported, not tuned on",
            "universe": "labelled items of the split's subjects present in the HELM matrix",
            "precision_at_k": "labelled positives among the top k of the universe / k",
            "recall_at_k": "those hits / all labelled positives of the split's subjects (incl. items HELM lacks)",
            "random_baseline": "k items drawn uniformly from the universe: precision = prevalence, "
                               "recall = k/universe x positives-in-universe/positives; p_value hypergeometric",
        },
        "dev": _evaluate_split(cand, labels, v1, score_cols),
        "held_out": _evaluate_split(cand, labels, held, score_cols),
    }
    dev_var = {}
    for name, (order, cols) in _variants(cand).items():
        ev = _evaluate_split(order, labels, v1, cols)
        dev_var[name] = {t: {"average_precision": v["average_precision"],
                             **{f"expected_P@{k}": v["at"][k]["expected_precision"] for k in v["at"]}}
                         for t, v in ev["targets"].items()}
    result["dev_variants"] = dev_var

    # issue 12: the latent-truth posterior against naive / current / random, with intervals and the ceiling
    labels_full = pd.read_csv(external / REDUX_V2, keep_default_na=False)
    labels_full = labels_full[labels_full["mmlu_test_index"].astype(str) != ""].astype({"mmlu_test_index": int})
    if set(json.loads((external / V1_SUBJECTS).read_text())) != DEV_SUBJECTS:
        raise ValueError(f"{V1_SUBJECTS} no longer lists the dev subjects fixed in this script")
    result["comparison"] = compare(imp.predictions, labels_full[["subject", "mmlu_test_index", "error_type",
                                                                 "correct_answer"]])

    # supplementary: 14 newer HELM models, on the 5,700 labelled items only (MMLU-Redux's joined file)
    f14 = external / REDUX_14
    if f14.exists():
        imp14 = import_predictions("helm", f14, gold_column="groundtruth_answer_idx")
        cand14 = label_error_candidates(imp14.predictions)
        result["supplementary_14_models"] = {
            "source": REDUX_14, "models": len(imp14.models),
            "comparison": compare(imp14.predictions, labels_full[["subject", "mmlu_test_index", "error_type",
                                                                  "correct_answer"]]),
            "dev": _evaluate_split(cand14, labels, v1, score_cols)["targets"],
            "held_out": _evaluate_split(cand14, labels, held, score_cols)["targets"],
        }
        # what more annotators add: the 10 HELM models and the 14 newer ones together on the labelled items
        # (a model in both files is two annotators: its two HELM runs answer independently)
        labelled = set(imp14.predictions["item_id"])
        both = pd.concat([imp.predictions[imp.predictions["item_id"].isin(labelled)].assign(
                              model=lambda d: d["model"] + " [helm-10]"),
                          imp14.predictions.assign(model=lambda d: d["model"] + " [redux-14]")], ignore_index=True)
        result["supplementary_24_annotators"] = {
            "sources": [HELM, REDUX_14], "models": int(both["model"].nunique()),
            "comparison": compare(both, labels_full[["subject", "mmlu_test_index", "error_type", "correct_answer"]]),
        }

    # the compact table of the report
    table = {}
    for split in ("dev", "held_out"):
        for t, v in result[split]["targets"].items():
            for k, r in v["at"].items():
                table[f"{split}/{t}/P@{k}"] = r["precision"]
                table[f"{split}/{t}/R@{k}"] = r["recall"]
                table[f"{split}/{t}/random_P@{k}"] = r["random_precision"]
                table[f"{split}/{t}/random_R@{k}"] = r["random_recall"]
    result["figures"] = table
    return result


def format_table(split: dict[str, Any]) -> str:
    """The held-out table: ranker × target × k, P and R with their 95 % intervals."""
    lines = []
    for t in ("wrong_groundtruth", "any_non_ok"):
        lines.append(f"{t} (n={split[t]['n_positive']})")
        for name in ("method", "naive", "current", "random"):
            cells = []
            for k in (str(x) for x in COMPARE_KS):
                c = split[t][name][k]
                cells.append(f"P@{k} {c['P']:.3f} [{c['P_ci'][0]:.3f},{c['P_ci'][1]:.3f}] "
                             f"R@{k} {c['R']:.3f} [{c['R_ci'][0]:.3f},{c['R_ci'][1]:.3f}]")
            lines.append(f"  {name:8s} " + " | ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--external", type=Path, default=EXTERNAL)
    ap.add_argument("--out", type=Path, default=RESULT)
    args = ap.parse_args(argv)
    if not (args.external / HELM).exists():
        print(f"external data absent: {args.external / HELM}", file=sys.stderr)
        return 2
    res = evaluate(args.external)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2, sort_keys=False) + "\n")
    for k, v in res["figures"].items():
        print(f"{k:40s} {v:.3f}")
    for label, comp in (("HELM 10 models", res["comparison"]),
                        ("14 newer models", res.get("supplementary_14_models", {}).get("comparison")),
                        ("24 annotators (both sets)", res.get("supplementary_24_annotators", {}).get("comparison"))):
        if comp:
            print(f"\n{label}, held-out ({comp['held_out']['subjects']} subjects):")
            print(format_table(comp["held_out"]))
            print("ceiling:", json.dumps(comp["held_out"]["ceiling"]))
            print("posterior calibration:", json.dumps(comp["held_out"]["posterior_calibration"]))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
