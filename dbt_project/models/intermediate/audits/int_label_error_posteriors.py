"""Audit 10 (issue 12): per item, the posterior that its gold label is wrong and the answer it should have been.

The models are annotators with their own reliability and the gold key is one more annotator:
benchtrust.audits.label_errors.label_error_posteriors (one-coin Dawid–Skene, GLAD and MACE from crowd-kit;
cleanlab's confident learning where every item has option log-probs) over the headline cells of every model,
per benchmark × dataset version with at least MIN_MODELS models. Validated against the MMLU-Redux expert labels
on held-out subjects by benchmarks/label_errors.py (benchmarks/results/label_errors.json, "comparison").

A Python model because the latent-truth fits are crowd-kit's EM, not SQL; dbt still writes the table, so the
report and marts.item_audit read one source.
"""

import pandas as pd

COLUMNS = [
    "benchmark",
    "dataset_version",
    "item_id",
    "n_models",
    "label_error_posterior",
    "suggested_answer",
    "suggested_answer_posterior",
    "posterior_one_coin_dawid_skene",
    "posterior_glad",
    "posterior_mace",
    "cleanlab_issue_score",
    "label_error_votes",
    "label_error_posterior_rank",
]


def model(dbt, session):
    dbt.config(materialized="table")
    from benchtrust.audits.label_errors import label_error_posteriors

    rel = dbt.ref("stg_lake__predictions")
    df = (
        rel.filter("is_headline and gold is not null and trim(gold) <> ''")
        .project("benchmark, dataset_version, model, item_id, prediction, predicted_index, gold, option_logprobs")
        .df()
    )
    parts = []
    for (bench, dv), grp in df.groupby(["benchmark", "dataset_version"], sort=True):
        post = label_error_posteriors(grp)
        if post.empty:
            continue
        post = post.rename(columns={"votes": "label_error_votes", "rank": "label_error_posterior_rank"})
        post.insert(0, "dataset_version", dv)
        post.insert(0, "benchmark", bench)
        parts.append(post[COLUMNS])
    if not parts:  # typed empty table: the mart's contract casts these columns
        return pd.DataFrame(
            {
                c: pd.Series(
                    dtype="float64"
                    if c.startswith(("posterior", "label_error_posterior", "suggested_answer_posterior", "cleanlab"))
                    else "object"
                )
                for c in COLUMNS
            }
        )
    out = pd.concat(parts, ignore_index=True)
    for c in ("n_models", "label_error_posterior_rank"):
        out[c] = out[c].astype("int64")
    for c in (
        "label_error_posterior",
        "suggested_answer_posterior",
        "posterior_one_coin_dawid_skene",
        "posterior_glad",
        "posterior_mace",
        "cleanlab_issue_score",
    ):
        out[c] = out[c].astype("float64")
    return out
