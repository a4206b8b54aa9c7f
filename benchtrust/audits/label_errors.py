"""Audit 10: label-error candidates from model agreement (the "platinum benchmark" filter, automated).

An item whose gold is wrong shows a typical footprint across strong models: most of them *reject* the
gold and they *agree on the same alternative* (the answer the gold should have been).  A merely hard
item is rejected too, but the wrong answers scatter over the distractors.  Per item, with M models
(each model one vote; a model with several predictions on the item — seeds, templates — splits its vote
evenly over them):

- ``n_correct`` c: votes for the gold;
- ``top_alternative`` and ``n_top_alternative`` a: the most-voted valid answer other than the gold
  (ties: larger accuracy-weighted vote, then alphabetical);
- ``n_invalid``: votes that are not a valid answer at all ("To", "The", "") — they count in M, so
  they lower both shares rather than inflating the consensus;
- **score** = (a / M) · (1 − c / M): the share of models agreeing on one wrong option times the share
  rejecting the gold.  1 when every model picks the same alternative; 0 when no model picks an
  alternative (all on the gold, or the rest invalid).  The product rewards both parts: 8 of 10 on one alternative with 2
  on the gold (0.64) ranks above 4 on one alternative and 4 on another (0.4·1.0 = 0.4, a hard item).
- **llr** (tie-break and second opinion) = Σ_m w_m·(v_m(alternative) − v_m(gold)),
  w_m = log((K−1)·acc_m / (1−acc_m)), the log-likelihood ratio "true answer is the alternative" vs "true
  answer is the gold" under the one-coin Dawid–Skene model (model m right with probability acc_m, its
  errors uniform over the K−1 other options; K = number of valid answers, 2 for free text; acc_m clipped to
  [1/K, 0.99] so a below-chance model gets weight 0).  Among items with the same counts it ranks first
  those where the *stronger* models side with the alternative.

Ranking: score ↓, llr ↓, item id ↑ (deterministic).  ``is_candidate`` = a > M/2 (most models give the
same wrong answer), the plain platinum-style filter; the ranking is what a reviewer works through.

Why this score (developed on the 30 MMLU-Redux v1 subjects only, see ``benchmarks/label_errors.py``):
the share rejecting the gold alone (1 − c/M) mixes hard items into the top (dev average precision for
``wrong_groundtruth`` 0.17 against 0.23); consensus alone ignores how many models still back the gold
(0.21).  The LLR as the primary key is on par with the product (0.231 vs 0.227, the same precision at
100 and 300), so the product — bounded, readable as shares — ranks and the LLR breaks its ties.  In a
trial, weighting votes by per-*subject* model accuracy made things worse (hard subjects give low
weights exactly where label errors hide).

:func:`label_error_posteriors` (issue 12) treats the models *and the answer key* as annotators of a latent true
answer (crowd-kit's one-coin Dawid–Skene, GLAD and MACE; cleanlab's confident learning where option log-probs
exist) and gives per item P(gold is wrong) and the most probable other answer; ``marts.item_audit`` carries it
(dbt Python model ``int_label_error_posteriors``). Chosen on the dev subjects only; on the 27 held-out
MMLU-Redux subjects it is no better than the naive agreement count (R@100 of ``wrong_groundtruth`` 0.667 vs
0.707, paired difference −0.04, 95 % interval [−0.11, 0.02]), and neither can be much better from ten models'
letters: an oracle that knew the error rate of every vote-count signature *on the held-out items themselves*
reaches 0.75, 48 expert-``ok`` items are rejected by all ten models next to 13 wrong keys, and 2 of the 24 wrong
keys are answered with the key by every model (``benchmarks/results/label_errors.json``, ``comparison``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from benchtrust.items import LETTERS

__all__ = [
    "LATENT_TRUTH_METHODS",
    "MIN_MODELS",
    "PrecisionAtK",
    "label_error_candidates",
    "label_error_posteriors",
    "precision_recall_at_k",
]


def _answer_options(d: pd.DataFrame, gold: pd.Series, pred: pd.Series,
                    valid_answers: Iterable[str] | None) -> tuple[pd.Series, int]:
    """Which predictions choose an option, and the number of options ``k`` (at least 2) the model weights use:
    the given answers; else the rows with a ``predicted_index``; else single capital letters when every gold is
    one; else any non-empty answer ("right vs one other")."""
    if valid_answers is not None:
        valid = set(valid_answers)
        is_valid = pred.isin(valid)
        k = max(len(valid), 2)
    elif "predicted_index" in d.columns and d["predicted_index"].notna().any():
        # canonical predictions: the importer / engine already decided which answers are options
        is_valid = d["predicted_index"].notna()
        top = int(pd.to_numeric(d["predicted_index"], errors="coerce").max())
        gl = [LETTERS.index(g) for g in gold.unique() if len(g) == 1 and g in LETTERS]
        k = max(top + 1, (max(gl) + 1) if gl else 0, 2)
    elif gold.isin(list(LETTERS)).all():
        # letter answers without predicted_index: any single capital letter is an option
        is_valid = pred.isin(list(LETTERS))
        k = max(len(set(gold) | set(pred[is_valid])), 2)
    else:  # free-text answers: any non-empty answer is an answer; "right vs one other" for the weights
        is_valid = pred != ""
        k = 2
    return is_valid, k


def _vote_tally(item: pd.Series, model: pd.Series, gold: pd.Series, pred: pd.Series, is_valid: pd.Series,
                vote: np.ndarray, w: np.ndarray) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series, pd.Series,
                                                          pd.Series, pd.Series, pd.DataFrame]:
    """Per item: models, gold, (weighted) votes on the gold, invalid votes, and the most voted other answer with
    its (weighted) votes (ties: more weight, then the answer's name)."""
    answer = np.where(is_valid.to_numpy(), pred.to_numpy(dtype=object), "\x00invalid")
    frame = pd.DataFrame({"item": item.to_numpy(), "answer": answer, "vote": vote, "wvote": vote * w,
                          "gold": gold.to_numpy(), "model": model.to_numpy()})
    by_item = frame.groupby("item", sort=True)
    n_models = by_item["model"].nunique()
    gold_of = by_item["gold"].first()
    tally = frame.groupby(["item", "answer"], sort=True)[["vote", "wvote"]].sum().reset_index()
    tally["gold"] = tally["item"].map(gold_of)
    on_gold = tally[tally["answer"] == tally["gold"]].set_index("item")
    n_correct = on_gold["vote"].reindex(n_models.index, fill_value=0.0)
    w_correct = on_gold["wvote"].reindex(n_models.index, fill_value=0.0)
    inv = tally[tally["answer"] == "\x00invalid"].set_index("item")["vote"].reindex(n_models.index, fill_value=0.0)
    alts = tally[(tally["answer"] != tally["gold"]) & (tally["answer"] != "\x00invalid")]
    alts = alts.sort_values(["item", "vote", "wvote", "answer"], ascending=[True, False, False, True], kind="mergesort")
    top = alts.drop_duplicates("item").set_index("item").reindex(n_models.index)
    n_alt = top["vote"].fillna(0.0)
    w_alt = top["wvote"].fillna(0.0)

    return n_models, gold_of, n_correct, w_correct, inv, n_alt, w_alt, top


def label_error_candidates(
    predictions: pd.DataFrame,
    *,
    model_col: str = "model",
    item_col: str = "item_id",
    prediction_col: str = "prediction",
    gold_col: str = "gold",
    valid_answers: Iterable[str] | None = None,
    keep: Sequence[str] = ("subject", "mmlu_test_index"),
) -> pd.DataFrame:
    """Rank items by how much the models' answers suggest the gold label is wrong (module docstring).

    Args:
        predictions: canonical predictions; rows without a gold are ignored.
        model_col, item_col, prediction_col, gold_col: column names.
        valid_answers: the answers that count as choosing an option.  Default: the rows with a
            ``predicted_index`` (canonical predictions: the importer or engine has decided — for HELM's
            MMLU, A–D; "To", "The", "", "E" are invalid); without that column, any single capital letter
            when every gold is one, else any non-empty answer.
        keep: item-level columns to carry over when present (first value per item).

    Returns:
        One row per item with a gold: item id, ``gold``, ``n_models``, ``n_correct``,
        ``n_top_alternative``, ``top_alternative``, ``n_invalid``, ``share_correct``,
        ``share_top_alternative``, ``score``, ``llr``, ``is_candidate``, ``rank`` (1 = most suspicious),
        and the ``keep`` columns; sorted by rank.
    """
    d = predictions[predictions[gold_col].notna() & (predictions[gold_col].astype(str) != "")]
    if d.empty:
        raise ValueError("no predictions with a gold answer")
    gold = d[gold_col].astype(str).str.strip()
    pred = d[prediction_col].astype(object).where(d[prediction_col].notna(), "").astype(str).str.strip()
    is_valid, k = _answer_options(d, gold, pred, valid_answers)
    model = d[model_col].astype(str)
    item = d[item_col].astype(str)

    # one vote per model and item, split over its rows
    per_cell = model.groupby([model, item]).transform("size").to_numpy(dtype=float)
    vote = 1.0 / per_cell
    hit = (pred == gold).to_numpy()
    acc = pd.Series(hit.astype(float)).groupby(model.to_numpy()).mean()
    acc_c = acc.clip(lower=1.0 / k, upper=0.99)
    w_model = np.log((k - 1) * acc_c / (1.0 - acc_c))
    w = model.map(w_model).to_numpy(dtype=float)

    n_models, gold_of, n_correct, w_correct, inv, n_alt, w_alt, top = _vote_tally(item, model, gold, pred, is_valid, vote, w)
    m = n_models.astype(float)
    out = pd.DataFrame({
        item_col: n_models.index, "gold": gold_of.to_numpy(), "n_models": n_models.to_numpy(),
        "n_correct": n_correct.to_numpy(), "n_top_alternative": n_alt.to_numpy(),
        "top_alternative": top["answer"].to_numpy(dtype=object), "n_invalid": inv.to_numpy(),
    })
    out["share_correct"] = (n_correct / m).to_numpy()
    out["share_top_alternative"] = (n_alt / m).to_numpy()
    out["score"] = out["share_top_alternative"] * (1.0 - out["share_correct"])
    # rounded so that summation order (row order of the input) cannot reorder exact ties
    out["llr"] = np.round((w_alt - w_correct).to_numpy(), 10)
    out["score"] = np.round(out["score"].to_numpy(), 12)
    out["is_candidate"] = out["n_top_alternative"] > out["n_models"] / 2.0
    for c in keep:
        if c in predictions.columns and c != item_col:
            firsts = d.groupby(item.to_numpy())[c].first()
            out[c] = out[item_col].map(firsts)
    out = out.sort_values(["score", "llr", item_col], ascending=[False, False, True], kind="mergesort")
    out["rank"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)


MIN_MODELS = 3  # agreement between fewer models says little about a label
LATENT_TRUTH_METHODS = ("one_coin_dawid_skene", "glad", "mace")
GOLD_ANNOTATOR = "__gold__"


def _latent_truth(method: str, labels: pd.DataFrame) -> pd.DataFrame:
    """P(true answer = option) per item from crowd-kit's aggregator ``method`` (rows: task; columns: options)."""
    from crowdkit.aggregation import GLAD, MACE, OneCoinDawidSkene

    factories: dict[str, Callable[[], Any]] = {
        "one_coin_dawid_skene": lambda: OneCoinDawidSkene(n_iter=100, tol=1e-6),
        "glad": lambda: GLAD(n_iter=50, tol=1e-5),
        "mace": lambda: MACE(n_iter=50, n_restarts=3, random_state=0)}
    model = factories[method]()
    with warnings.catch_warnings():  # crowd-kit's pandas idioms warn on pandas 2.x
        warnings.simplefilter("ignore")
        return model.fit_predict_proba(labels).astype(float)


def _option_probabilities(d: pd.DataFrame, probs_col: str, n_options: int) -> pd.DataFrame | None:
    """Item × option probabilities averaged over models from their option log-probs (softmax per row), or None
    unless every item has them from at least one model."""
    if probs_col not in d.columns:
        return None
    rows = d[d[probs_col].map(lambda v: isinstance(v, (list, tuple, np.ndarray)) and len(v) >= 2)]
    if rows.empty or rows["item"].nunique() < d["item"].nunique():
        return None
    mat = np.zeros((len(rows), n_options))
    for i, lp in enumerate(rows[probs_col]):
        lp = np.asarray(lp, dtype=float)[:n_options]
        e = np.exp(lp - np.nanmax(lp))
        mat[i, : len(lp)] = np.nan_to_num(e / np.nansum(e))
    per_model = pd.DataFrame(mat, index=pd.MultiIndex.from_arrays([rows["item"], rows["model"]]))
    return per_model.groupby(level=[0, 1]).mean().groupby(level=0).mean()


def _model_votes(frame: pd.DataFrame, gold_of: pd.Series) -> tuple[pd.DataFrame, dict[Any, dict[str, str | None]],
                                                                  pd.DataFrame, list[str]]:
    """One answer per model and item (its most frequent valid answer; ties: the alphabetically first), the votes
    per item ({model: answer or None}), the crowd-kit labels with the gold key as one more annotator, and the
    options."""
    valid = frame[frame["answer"].notna()]
    per = (valid.groupby(["item", "model", "answer"]).size().rename("n").reset_index()
           .sort_values(["item", "model", "n", "answer"], ascending=[True, True, False, True], kind="mergesort")
           .drop_duplicates(["item", "model"]))
    votes: dict[Any, dict[str, str | None]] = {it: {} for it in gold_of.index}
    for m in sorted(frame["model"].unique()):
        for it in frame.loc[frame["model"] == m, "item"].unique():
            votes[it][m] = None
    for it, m, a in per[["item", "model", "answer"]].itertuples(index=False):
        votes[it][m] = a
    labels = pd.concat([per.rename(columns={"item": "task", "model": "worker", "answer": "label"})
                        [["task", "worker", "label"]],
                        pd.DataFrame({"task": gold_of.index, "worker": GOLD_ANNOTATOR, "label": gold_of.to_numpy()})],
                       ignore_index=True)
    options = sorted(set(labels["label"]))
    return per, votes, labels, options


def _cleanlab_quality(frame: pd.DataFrame, d: pd.DataFrame, options: list[str], gold_of: pd.Series,
                      probs_col: str) -> np.ndarray | None:
    """cleanlab's self-confidence of each gold under the models' mean option probabilities, where the options are
    letters and every item has option log-probs (benchtrust's own runs); None otherwise."""
    if not all(len(o) == 1 and o in LETTERS for o in options):
        return None
    n_opt = LETTERS.index(max(options)) + 1
    if "predicted_index" in d.columns and d["predicted_index"].notna().any():
        n_opt = max(n_opt, int(pd.to_numeric(d["predicted_index"], errors="coerce").max()) + 1)
    probs = _option_probabilities(frame, probs_col, n_opt)
    if probs is None:
        return None
    from cleanlab.rank import get_label_quality_scores

    pp = probs.reindex(gold_of.index).to_numpy()
    pp = pp / pp.sum(axis=1, keepdims=True)
    return np.asarray(get_label_quality_scores(np.array([LETTERS.index(g) for g in gold_of]), pp,
                                               method="self_confidence"))


def _method_posteriors(out: pd.DataFrame, labels: pd.DataFrame, gold_of: pd.Series, options: list[str],
                       methods: Sequence[str]) -> list[np.ndarray]:
    """Each method's P(gold is wrong), their mean, and the suggested answer with its mean posterior, into ``out``;
    returns each method's rank key (ranks of P(gold), which keeps the precision 1 − P(gold) loses near 1)."""
    gold_pos = np.array([options.index(g) for g in gold_of])
    mean_proba = np.zeros((len(gold_of), len(options)))
    rank_keys = []
    for method in methods:
        proba = _latent_truth(method, labels).reindex(index=gold_of.index, columns=options).fillna(0.0).to_numpy()
        mean_proba += proba / len(methods)
        p_gold = proba[np.arange(len(gold_pos)), gold_pos]
        out[f"posterior_{method}"] = 1.0 - p_gold
        rank_keys.append(stats.rankdata(p_gold))  # P(gold) keeps the precision that 1 − P(gold) loses near 1
    out["label_error_posterior"] = 1.0 - mean_proba[np.arange(len(gold_pos)), gold_pos]
    alt = mean_proba.copy()
    alt[np.arange(len(gold_pos)), gold_pos] = -1.0
    best = alt.argmax(axis=1)
    has_alt = out["n_top_alternative"].to_numpy() > 0
    out["suggested_answer"] = np.where(has_alt, np.array(options, dtype=object)[best], None)
    out["suggested_answer_posterior"] = np.where(has_alt, alt[np.arange(len(best)), best], np.nan)

    return rank_keys


def label_error_posteriors(
    predictions: pd.DataFrame,
    *,
    model_col: str = "model",
    item_col: str = "item_id",
    prediction_col: str = "prediction",
    gold_col: str = "gold",
    probs_col: str = "option_logprobs",
    methods: Sequence[str] = LATENT_TRUTH_METHODS,
) -> pd.DataFrame:
    """Posterior that each item's gold label is wrong, and the answer it should probably have been.

    The models are annotators with abilities (and, in MACE, a chance of answering at random), items have a latent
    true answer (and, in GLAD, a difficulty); the gold key is one more annotator whose reliability is estimated
    with the rest, so an item's posterior weighs the models that reject the gold against the key's own track
    record. Each of ``methods`` (crowd-kit: one-coin Dawid–Skene, GLAD, MACE) gives P(true answer = option):

    - ``label_error_posterior`` = the mean over methods of P(true answer ≠ gold);
    - ``suggested_answer`` = the option other than the gold with the largest mean posterior (None when no model
      chose another option), ``suggested_answer_posterior`` its mean posterior;
    - where every item has option log-probs (benchtrust's own runs), confident learning (cleanlab's
      self-confidence of the gold under the models' mean option probabilities) adds ``cleanlab_issue_score``
      = 1 − that self-confidence (None for imported letters);
    - ``rank`` (1 = most suspicious) orders items by the mean of their ranks under each method's posterior (and
      the cleanlab score where present; ties: rank-averaged), then by ``n_top_alternative`` (the most models
      on one non-gold answer), then item id. Averaging ranks rather than posteriors keeps the order among
      items whose posteriors all round to 1 — that order carried the signal when the combination was chosen
      on the 30 MMLU-Redux dev subjects only (``benchmarks/label_errors.py``; held-out figures there).

    Valid answers follow :func:`label_error_candidates`; an invalid answer is a missing label. A model with
    several rows on an item answers with its most frequent valid answer (ties: the alphabetically first).
    ``votes`` is a JSON object {model: answer or null} per item.

    Returns one row per item with a gold, sorted by ``rank``; empty (same columns) with fewer than
    :data:`MIN_MODELS` models.
    """
    cols = [item_col, "gold", "n_models", "n_correct", "n_top_alternative", "label_error_posterior",
            "suggested_answer", "suggested_answer_posterior", *[f"posterior_{m}" for m in methods],
            "cleanlab_issue_score", "votes", "rank"]
    d = predictions[predictions[gold_col].notna() & (predictions[gold_col].astype(str).str.strip() != "")]
    if d.empty or d[model_col].nunique() < MIN_MODELS:
        return pd.DataFrame(columns=cols)
    gold = d[gold_col].astype(str).str.strip()
    pred = d[prediction_col].astype(object).where(d[prediction_col].notna(), "").astype(str).str.strip()
    if "predicted_index" in d.columns and d["predicted_index"].notna().any():
        is_valid = d["predicted_index"].notna()
    elif gold.isin(list(LETTERS)).all():
        is_valid = pred.isin(list(LETTERS))
    else:
        is_valid = pred != ""
    frame = pd.DataFrame({"item": d[item_col].astype(str).to_numpy(), "model": d[model_col].astype(str).to_numpy(),
                          "answer": np.where(is_valid.to_numpy(), pred.to_numpy(dtype=object), None),
                          "gold": gold.to_numpy()})
    if probs_col in d.columns:
        frame[probs_col] = d[probs_col].to_numpy(dtype=object)
    gold_of = frame.groupby("item", sort=True)["gold"].first()
    n_models = frame.groupby("item", sort=True)["model"].nunique()

    per, votes, labels, options = _model_votes(frame, gold_of)
    n_correct = per.assign(hit=per["answer"] == per["item"].map(gold_of)).groupby("item")["hit"].sum()
    alt_counts = per[per["answer"] != per["item"].map(gold_of)].groupby(["item", "answer"]).size()
    n_top_alt = alt_counts.groupby(level=0).max() if len(alt_counts) else pd.Series(dtype=float)

    out = pd.DataFrame({item_col: gold_of.index, "gold": gold_of.to_numpy(), "n_models": n_models.to_numpy()})
    out["n_correct"] = n_correct.reindex(gold_of.index, fill_value=0).to_numpy(dtype=int)
    out["n_top_alternative"] = n_top_alt.reindex(gold_of.index, fill_value=0).to_numpy(dtype=int)
    rank_keys = _method_posteriors(out, labels, gold_of, options, methods)
    out["cleanlab_issue_score"] = np.nan
    quality = _cleanlab_quality(frame, d, options, gold_of, probs_col)
    if quality is not None:
        out["cleanlab_issue_score"] = 1.0 - quality
        rank_keys.append(stats.rankdata(quality))
    out["votes"] = [json.dumps(votes[it], sort_keys=True) for it in gold_of.index]
    out["_borda"] = np.mean(rank_keys, axis=0)
    out = out.sort_values(["_borda", "n_top_alternative", item_col], ascending=[True, False, True], kind="mergesort")
    out["rank"] = np.arange(1, len(out) + 1)
    return out.drop(columns="_borda").reset_index(drop=True)[cols]


@dataclass(frozen=True)
class PrecisionAtK:
    """Precision / recall of the top-k candidates against reference labels, with the random baseline.

    ``expected_precision`` / ``expected_recall``: the same with the order inside groups of tied
    scores taken as random (the expected hits when the cut-off splits a tie group; equal to precision
    and recall when no tie straddles the cut-off or no tie key was given).
    ``random_precision`` = (positives in the universe) / n_universe, the expected precision of k items
    drawn at random from the universe; ``random_recall`` = k / n_universe × (positives in the universe) /
    n_positive, its expected recall; ``p_value`` = P(hits ≥ observed) under that random draw
    (hypergeometric); ``max_precision`` = min(k, positives in the universe) / k.
    """

    k: int
    hits: int
    precision: float
    recall: float
    n_universe: int
    n_positive: int
    random_precision: float
    random_recall: float
    lift: float
    p_value: float
    max_precision: float
    expected_precision: float
    expected_recall: float

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def _hypergeom_upper(hits: int, n: int, n_pos: int, k: int) -> float:
    """P(X ≥ hits), X ~ Hypergeometric(n, n_pos, k), summed from the pmf (``sf`` loses tiny tails)."""
    top = min(k, n_pos)
    if hits <= 0:
        return 1.0
    if hits > top:
        return 0.0
    return float(min(1.0, stats.hypergeom.pmf(np.arange(hits, top + 1), n, n_pos, k).sum()))


def precision_recall_at_k(
    ranked: Sequence[str],
    positives: Iterable[str],
    ks: Sequence[int] = (100, 300),
    n_positive: int | None = None,
    tie_key: Sequence[object] | None = None,
) -> list[PrecisionAtK]:
    """Precision and recall at each k of a ranked list of item ids (the universe = the whole list).

    Args:
        ranked: item ids, most suspicious first; every item of the evaluation universe, once.
        positives: the item ids labelled as errors (those outside ``ranked`` count only through
            ``n_positive``).
        ks: cut-offs.
        n_positive: recall denominator (default: positives inside ``ranked``); pass the number of
            labelled errors of the universe when some of them are missing from ``ranked``.
        tie_key: per ranked item, the value(s) of the ranking score; equal consecutive keys form a tie
            group for ``expected_precision`` / ``expected_recall``.
    """
    ranked = list(ranked)
    if len(set(ranked)) != len(ranked):
        raise ValueError("ranked item ids must be unique")
    pos = set(positives)
    y = np.fromiter((r in pos for r in ranked), dtype=bool, count=len(ranked))
    n = len(ranked)
    n_pos_in = int(y.sum())
    n_pos = n_pos_in if n_positive is None else int(n_positive)
    if n_pos < n_pos_in:
        raise ValueError("n_positive is smaller than the positives in the ranking")
    if tie_key is not None:
        keys = list(tie_key)
        if len(keys) != n:
            raise ValueError("tie_key must have one entry per ranked item")
        group = np.cumsum([i == 0 or keys[i] != keys[i - 1] for i in range(n)]) - 1
    else:
        group = np.arange(n)
    out = []
    for k in ks:
        kk = min(int(k), n)
        hits = int(y[:kk].sum())
        exp_hits = float(hits)
        if 0 < kk < n and group[kk - 1] == group[kk]:
            in_g = group == group[kk - 1]
            above = int(np.flatnonzero(in_g)[0])
            exp_hits = float(y[:above].sum()) + (kk - above) * float(y[in_g].mean())
        prec = hits / kk if kk else float("nan")
        rand_p = n_pos_in / n if n else float("nan")
        out.append(PrecisionAtK(
            k=kk, hits=hits, precision=prec, recall=hits / n_pos if n_pos else float("nan"), n_universe=n,
            n_positive=n_pos, random_precision=rand_p,
            random_recall=(kk / n) * (n_pos_in / n_pos) if n and n_pos else float("nan"),
            lift=prec / rand_p if rand_p else float("nan"),
            p_value=_hypergeom_upper(hits, n, n_pos_in, kk),
            max_precision=min(kk, n_pos_in) / kk if kk else float("nan"),
            expected_precision=exp_hits / kk if kk else float("nan"),
            expected_recall=exp_hits / n_pos if n_pos else float("nan"),
        ))
    return out
