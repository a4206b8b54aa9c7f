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

from benchtrust.audits import label_error_candidates, precision_recall_at_k  # noqa: E402
from benchtrust.importers import import_predictions  # noqa: E402

EXTERNAL = ROOT.parent / "shared" / "external-data"
HELM = "helm_mmlu/helm_10models_mmlu_item_matrix.csv"
REDUX_V2 = "mmlu_redux/redux_v2_5700_from_HEAD_with_mmlu_index.csv"
REDUX_14 = "mmlu_redux/_joined_14models_5700items.csv"
V1_SUBJECTS = "mmlu_redux/v1_subject_list.json"
KS = (100, 300)
RESULT = ROOT / "benchmarks" / "results" / "label_errors.json"


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

    # supplementary: 14 newer HELM models, on the 5,700 labelled items only (MMLU-Redux's joined file)
    f14 = external / REDUX_14
    if f14.exists():
        imp14 = import_predictions("helm", f14, gold_column="groundtruth_answer_idx")
        cand14 = label_error_candidates(imp14.predictions)
        result["supplementary_14_models"] = {
            "source": REDUX_14, "models": len(imp14.models),
            "dev": _evaluate_split(cand14, labels, v1, score_cols)["targets"],
            "held_out": _evaluate_split(cand14, labels, held, score_cols)["targets"],
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
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
