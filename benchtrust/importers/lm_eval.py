"""lm-evaluation-harness ``--log_samples`` output.

``lm_eval ... --output_path OUT --log_samples`` writes, per model, ``OUT/<model_name_sanitized>/``
``results_<date>.json`` and one ``samples_<task>_<date>.jsonl`` per task (``<date>`` like
``2024-06-01T10-00-00.123456``).  Each JSONL line is one document (as written by lm-eval 0.4's
``EvaluationTracker.save_results_samples``)::

    {"doc_id": 0, "doc": {...}, "target": "1",
     "arguments": {"gen_args_0": {"arg_0": "<context>", "arg_1": " A"}, "gen_args_1": {...}, ...},
     "resps": [[["-1.25", "False"]], ...], "filtered_resps": [["-1.25", "False"], ...],
     "filter": "none", "metrics": ["acc"], "doc_hash": "…", "prompt_hash": "…", "target_hash": "…",
     "acc": 1.0}

``resps`` / ``filtered_resps`` are stringified by lm-eval (``sanitize_list``): a log-likelihood request's
response is ``[logprob, is_greedy]`` as strings; a generation request's is the text.  Older 0.4 releases
wrote ``arguments`` as a list of argument lists; both are read.

Canonical mapping, per line:

- **multiple choice** (every request is a (context, continuation) log-likelihood pair): option
  log-probabilities from ``filtered_resps``; item options = the doc's ``choices`` when it has one per
  request (MMLU), else the continuations; ``prediction`` = letter of the arg-max option (as the engine
  in :mod:`benchtrust.inference` writes it), ``predicted_index``, ``option_logprobs``, ``p_correct`` =
  softmax probability of the gold option, ``logprob_gold``, ``score`` = log-prob of the chosen option,
  ``decoding`` = ``loglikelihood``.  Gold = ``target`` read as an option index, else as a
  continuation or option text, else as a letter.
  ``is_correct`` = the sample's ``acc`` metric when present (lm-eval's own verdict), else arg-max == gold.
- **generation** (``generate_until``): ``prediction`` = ``filtered_resps[0]`` (the answer after the task's
  filter), ``generation`` = ``resps[0][0]`` (raw text), ``gold`` = ``target``; ``is_correct`` / ``score`` =
  the sample's metric (option ``metric``; default the first of the sample's ``metrics`` whose value is 0
  or 1, e.g. ``exact_match``).  Decoding ``greedy`` unless the request's generation kwargs sample.
- tasks with several filters (gsm8k's ``strict-match`` and ``flexible-extract``) log one line per filter.
  A filter is a *scoring variant* of one prompt (the same generation, answers extracted two ways), not a
  prompt template, so filters never enter the prompt-spread audit: the task's **primary filter** — the
  first in file order, which is the first the task's YAML lists (gsm8k: ``strict-match``) — is the primary
  and headline cell (``is_primary`` / ``is_headline``); every other filter is kept as a non-primary row
  (``is_primary`` and ``is_headline`` false), visible in ``marts.predictions`` and in the extra column
  ``lm_eval_filter``.  Their ``template_id`` is ``<task>|filter=<name>`` (the cell key needs the filter;
  the prompt is the task's); option ``filter`` keeps one filter only, with ``template_id`` ``<task>``.
  ``meta["primary_filters"]`` names the primary filter of each task.
- ``item_id`` = ``<task>-<doc_id:05d>``; for MMLU subject tasks (``mmlu_*`` whose doc has ``subject``)
  ``<subject>-<doc_id:05d>`` with ``benchmark`` ``mmlu`` and extra column ``mmlu_test_index`` = doc_id
  (the Hugging Face ``cais/mmlu`` test split keeps the order of Hendrycks' CSV files).
- model: option ``model``, else ``model_name`` (or ``pretrained=`` of ``config.model_args``) of a
  ``results_*.json`` beside the samples, else the folder name with ``__`` read as ``/``.
- ``n_fewshot``: the ``n-shot`` entry of that results file when present.

A line that is not JSON, not an object, or lacks ``doc_id`` / ``arguments`` / ``filtered_resps`` raises
:class:`~benchtrust.importers.ImportFormatError` naming the file and the 1-based line number.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchtrust.importers._common import (
    ImportFormatError,
    ImportResult,
    as_json,
    build_items,
    content_version,
    dataset_versions_from_items,
    finish_predictions,
)
from benchtrust.items import LETTERS
from benchtrust.readlimits import LIMITS, LimitError, RecordError, check_file, iter_lines_bounded, loads_record

__all__ = ["SAMPLES_NAME", "import_lm_eval"]

SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+?)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl$")
_QUESTION_KEYS = ("question", "query", "input", "problem", "prompt", "sentence", "text", "ctx")


def _task_of(path: Path) -> tuple[str, str | None]:
    m = SAMPLES_NAME.match(path.name)
    if m:
        return m.group("task"), m.group("date")
    stem = path.name[: -len(".jsonl")] if path.name.endswith(".jsonl") else path.stem
    return (stem[len("samples_") :] if stem.startswith("samples_") else stem), None


def _results_for(folder: Path) -> dict[str, Any]:
    """The newest results_*.json of a model folder (empty when there is none or it is unreadable)."""
    files = sorted(folder.glob("results_*.json"))
    for f in reversed(files):
        try:
            results: dict[str, Any] = json.loads(f.read_text(encoding="utf-8"))
            return results
        except (OSError, json.JSONDecodeError):
            continue
    return {}


def _model_name(folder: Path, results: dict[str, Any]) -> str:
    if results.get("model_name"):
        return str(results["model_name"])
    args = str((results.get("config") or {}).get("model_args") or "")
    m = re.search(r"(?:^|,)\s*(?:pretrained|model)=([^,]+)", args)
    if m:
        return m.group(1).strip()
    return folder.name.replace("__", "/")


def _arguments(args: Any) -> list[list[Any]]:
    if isinstance(args, dict):
        out = []
        for k in sorted(args, key=lambda s: int(re.sub(r"\D", "", s) or 0)):
            a = args[k]
            out.append(
                [a[j] for j in sorted(a, key=lambda s: int(re.sub(r"\D", "", s) or 0))]
                if isinstance(a, dict)
                else list(a)
            )
        return out
    if isinstance(args, list):
        return [list(a) if isinstance(a, (list, tuple)) else [a] for a in args]
    raise TypeError(f"arguments is a {type(args).__name__}")


def _float(v: Any) -> float:
    return float(v)


def _is_ll_pair(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) == 2 and str(v[1]) in ("True", "False", "true", "false")


def _binary(v: Any) -> bool | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    if x in (0.0, 1.0):
        return bool(x)
    return None


def _parse_line(text: str, file: str, line: int) -> dict[str, Any]:
    try:
        rec = loads_record(text)
    except json.JSONDecodeError as e:
        raise ImportFormatError(
            file, "bad_json", f"not a JSON object ({e.msg} at column {e.colno})", line=line
        ) from None
    except RecordError as e:  # duplicate keys, nesting, too many fields (benchtrust.readlimits)
        raise ImportFormatError(file, e.rule, e.detail, line=line) from None
    if not isinstance(rec, dict):
        raise ImportFormatError(file, "bad_record", f"a JSON {type(rec).__name__}, not an object", line=line)
    for k in ("doc_id", "arguments", "filtered_resps"):
        if k not in rec:
            raise ImportFormatError(file, "missing_field", f"no {k!r} (is this an lm-eval samples file?)", line=line)
    return rec


def _multiple_choice_fields(
    rec: dict[str, Any],
    args: list[Any],
    fr: list[Any],
    doc: dict[str, Any],
    target: Any,
    file: str,
    line: int,
    metric: str | None,
) -> dict[str, Any]:
    """A log-likelihood record over options: the argmax option, the gold index (from an index, a continuation,
    an option text or a letter), the options' probabilities and lm-eval's own verdict when it has one."""
    try:
        lp = np.array([_float(x[0]) for x in fr], dtype=float)
    except (TypeError, ValueError) as e:
        raise ImportFormatError(file, "bad_resps", f"log-probability is not a number: {e}", line=line) from None
    continuations = [a[1].strip() for a in args]
    doc_choices = doc.get("choices")
    # item options: the doc's option texts when it has one per request (MMLU: the continuations are
    # just " A".." D"), else the continuations themselves
    choices = (
        [str(c) for c in doc_choices]
        if isinstance(doc_choices, list) and len(doc_choices) == len(args)
        else continuations
    )
    gi = None
    t = str(target).strip() if target is not None else ""
    if re.fullmatch(r"\d+", t) and int(t) < len(choices):
        gi = int(t)
    elif t in continuations:
        gi = continuations.index(t)
    elif t in choices:
        gi = choices.index(t)
    elif len(t) == 1 and t in LETTERS and LETTERS.index(t) < len(choices):
        gi = LETTERS.index(t)
    pred = int(np.argmax(lp))
    probs = np.exp(lp - lp.max())
    probs /= probs.sum()
    verdict = _binary(rec.get(metric or "acc"))
    return dict(
        task_type="multiple_choice",
        decoding="loglikelihood",
        temperature=0.0,
        prediction=LETTERS[pred],
        predicted_index=pred,
        choices=choices,
        gold=LETTERS[gi] if gi is not None else None,
        gold_index=gi if gi is not None else -1,
        is_correct=verdict if verdict is not None else (pred == gi if gi is not None else None),
        score=float(lp[pred]),
        p_correct=float(probs[gi]) if gi is not None else None,
        logprob_gold=float(lp[gi]) if gi is not None else None,
        option_logprobs=[float(x) for x in lp],
        generation=None,
        context=args[0][0],
    )


def _generation_fields(
    rec: dict[str, Any], args: list[Any], fr: Any, target: Any, metrics: list[Any], metric: str | None
) -> dict[str, Any]:
    """A generation (or single log-likelihood) record: the filtered response, greedy or sampled decoding from the
    generation arguments, and the score of ``metric`` (else the first binary metric)."""
    first = fr[0] if isinstance(fr, list) and fr else fr
    if isinstance(first, (list, tuple)):  # one log-likelihood request (e.g. lambada) or repeats
        first = first[0] if first else None
    resps = rec.get("resps")
    gen = None
    if isinstance(resps, list) and resps and isinstance(resps[0], list) and resps[0]:
        gen = resps[0][0] if isinstance(resps[0][0], str) else None
    gen_kwargs = args[0][1] if args and len(args[0]) > 1 and isinstance(args[0][1], dict) else {}
    temp = gen_kwargs.get("temperature", 0.0)
    sample = bool(gen_kwargs.get("do_sample")) and float(temp or 0.0) > 0
    name = metric or next((m for m in metrics if _binary(rec.get(m)) is not None), None)
    val = rec.get(name) if name else None
    try:
        score = float(val) if val is not None else None
        if score is not None and not math.isfinite(score):
            score = None
    except (TypeError, ValueError):
        score = None
    return dict(
        task_type="generation",
        decoding="sample" if sample else "greedy",
        temperature=float(temp or 0.0) if sample else 0.0,
        prediction=None if first is None else str(first),
        predicted_index=None,
        choices=[],
        gold=None if target is None else str(target),
        gold_index=-1,
        is_correct=_binary(val),
        score=score,
        p_correct=None,
        logprob_gold=None,
        option_logprobs=None,
        generation=gen,
        context=args[0][0] if args and args[0] else "",
    )


def _row_from(rec: dict[str, Any], task: str, file: str, line: int, metric: str | None) -> dict[str, Any]:
    try:
        args = _arguments(rec["arguments"])
    except (TypeError, AttributeError) as e:
        raise ImportFormatError(file, "bad_arguments", str(e), line=line) from None
    doc: dict[str, Any] = rec["doc"] if isinstance(rec.get("doc"), dict) else {}
    fr = rec["filtered_resps"]
    target = rec.get("target")
    metrics = list(rec.get("metrics") or [])
    row: dict[str, Any] = {"_filter": str(rec.get("filter", "none")), "_metrics": metrics}
    mc = (
        len(args) >= 2
        and all(len(a) == 2 and isinstance(a[1], str) for a in args)
        and isinstance(fr, list)
        and len(fr) == len(args)
        and all(_is_ll_pair(x) for x in fr)
    )
    if mc:
        row.update(_multiple_choice_fields(rec, args, fr, doc, target, file, line, metric))
    else:
        row.update(_generation_fields(rec, args, fr, target, metrics, metric))
    doc_id = rec["doc_id"]
    try:
        doc_id = int(doc_id)
    except (TypeError, ValueError):
        raise ImportFormatError(file, "bad_doc_id", f"doc_id {doc_id!r} is not an integer", line=line) from None
    subject = doc.get("subject") if isinstance(doc.get("subject"), str) else None
    question = next((doc[k] for k in _QUESTION_KEYS if isinstance(doc.get(k), str) and doc[k].strip()), None)
    is_mmlu = task.startswith("mmlu") and subject is not None
    row.update(
        doc_id=doc_id,
        subject=subject or "",
        input=question or row["context"] or "",
        item_id=f"{subject}-{doc_id:05d}" if is_mmlu else f"{task}-{doc_id:05d}",
        mmlu_test_index=doc_id if is_mmlu else None,
        task=task,
        is_mmlu=is_mmlu,
        doc_hash=rec.get("doc_hash"),
        prompt_hash=rec.get("prompt_hash"),
        source_line=line,
    )
    return row


def _sample_files(p: Path) -> list[Path]:
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(p.rglob("samples_*.jsonl"))
        if files:
            return files
        raise ImportFormatError(
            str(p),
            "no_samples",
            "no samples_<task>_<date>.jsonl file below this folder (run lm_eval with --log_samples --output_path)",
        )
    raise ImportFormatError(str(p), "not_found", "no such file or folder")


def _file_rows(
    f: Path, task: str, date: Any, name: str, filter: str | None, metric: str | None
) -> list[dict[str, Any]]:
    """The rows of one samples file (bounded lines, UTF-8, ``filter`` applied); errors name the file and line."""
    file_rows = []
    try:
        check_file(f)
    except LimitError as e:
        raise ImportFormatError(str(f), e.rule, e.detail) from None
    with f.open("rb") as fh:
        for ln, raw in iter_lines_bounded(fh):
            if raw is None:
                raise ImportFormatError(
                    str(f), "record_too_large", f"line longer than {LIMITS.max_record_bytes:,} bytes", line=ln
                )
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ImportFormatError(
                    str(f), "encoding", f"line is not UTF-8: {e.reason} at byte {e.start}", line=ln
                ) from None
            if not text.strip():
                continue
            rec = _parse_line(text, str(f), ln)
            if filter is not None and str(rec.get("filter", "none")) != filter:
                continue
            r = _row_from(rec, task, str(f), ln, metric)
            r.update(model=name, source_file=str(f), run_date=date)
            file_rows.append(r)
    return file_rows


def _items(df: pd.DataFrame) -> pd.DataFrame:
    """One item per (benchmark, item_id); the first filter's line carries it."""
    first = df.drop_duplicates(["benchmark", "item_id"])
    item_rows = pd.DataFrame(
        {
            "benchmark": first["benchmark"],
            "item_id": first["item_id"],
            "task_type": first["task_type"],
            "input": first["input"],
            "choices": first["choices"],
            "gold": first["gold"].fillna(""),
            "gold_index": first["gold_index"],
            "subject": first["subject"],
            "metadata": [
                as_json({"task": t, "doc_id": d, "doc_hash": h, "prompt_hash": ph})
                for t, d, h, ph in zip(first["task"], first["doc_id"], first["doc_hash"], first["prompt_hash"])
            ],
            "source_file": first["source_file"],
            "source_row": first["source_line"],
            "mmlu_test_index": pd.array(first["mmlu_test_index"].tolist(), dtype="Int64"),
        }
    )
    return build_items(item_rows, extra_columns=["mmlu_test_index"])


def _mark_filters(df: pd.DataFrame) -> pd.Series:
    """Template ids, ``is_primary`` and ``is_headline`` of the rows; returns each task's primary filter.

    One cell per (task, filter) when a task logs several filters (``<task>|filter=<name>``). Primary and
    headline: the task's first filter in file order (lm-eval lists the task's main filter first); the other
    filters are scoring variants of the same prompt, kept out of the primary grid so the prompt-spread
    audit (primary cells only) never reads two filters as two templates."""
    n_filters = df.groupby("task")["_filter"].nunique()
    df["template_id"] = [t if n_filters[t] == 1 else f"{t}|filter={flt}" for t, flt in zip(df["task"], df["_filter"])]
    first_filter: pd.Series = df.drop_duplicates("task").set_index("task")["_filter"]
    is_primary_filter = df["_filter"].to_numpy() == df["task"].map(first_filter).to_numpy()
    df["is_primary"] = is_primary_filter
    df["is_headline"] = is_primary_filter
    return first_filter


def import_lm_eval(
    path: str | Path,
    *,
    model: str | None = None,
    model_version: str | None = None,
    benchmark: str | None = None,
    filter: str | None = None,  # lm-eval's own word
    metric: str | None = None,
    **_: Any,
) -> ImportResult:
    """Read lm-eval ``--log_samples`` files (one file, or every ``samples_*.jsonl`` below a folder).

    Args:
        path: a samples JSONL file or an lm-eval output folder.
        model: model name (default: from results_*.json or the folder name).
        model_version: default = the model name.
        benchmark: benchmark name for every row (default: ``mmlu`` for MMLU subject tasks, else the task).
        filter: keep only this lm-eval filter (e.g. ``strict-match``).
        metric: the per-sample metric that decides correctness (default ``acc`` for multiple choice, the
            first 0/1 metric for generation).

    Raises:
        ImportFormatError: a malformed line (file and line named), a missing file, a file without rows.
    """
    root = Path(path)
    files = _sample_files(root)
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    meta_models: dict[str, str] = {}
    nshot: dict[str, Any] = {}
    for f in files:
        task, date = _task_of(f)
        results = _results_for(f.parent)
        nshot.update(results.get("n-shot") or {})
        name = model or _model_name(f.parent, results)
        meta_models[str(f)] = name
        file_rows = _file_rows(f, task, date, name, filter, metric)
        if not file_rows:
            raise ImportFormatError(str(f), "empty", "no sample lines" + (f" with filter {filter!r}" if filter else ""))
        rows.extend(file_rows)
    df = pd.DataFrame(rows)
    first_filter = _mark_filters(df)
    df["benchmark"] = benchmark or np.where(df["is_mmlu"], "mmlu", df["task"])
    df["n_fewshot"] = [nshot.get(t) for t in df["task"]]
    unscored = int(df["is_correct"].isna().sum())
    if unscored:
        warnings.append(f"{unscored} sample(s) have no 0/1 metric or gold: imported unscored")

    items = _items(df)
    dv = dataset_versions_from_items(items)
    items_hash = items.set_index(["benchmark", "item_id"])["item_hash"]
    df["dataset_version"] = df["benchmark"].map(dv)
    df["item_hash"] = [items_hash[(b, i)] for b, i in zip(df["benchmark"], df["item_id"])]
    df["model_version"] = model_version or df["model"]
    df["lm_eval_task"] = df["task"]
    df["lm_eval_filter"] = df["_filter"]
    extras = ["subject", "mmlu_test_index", "lm_eval_task", "lm_eval_filter", "source_file", "source_line"]
    df["mmlu_test_index"] = pd.array(df["mmlu_test_index"].tolist(), dtype="Int64")
    df["grid_version"] = content_version(files, "lm-eval")
    out = finish_predictions(df, "lm-eval", str(root), extra_columns=extras)
    return ImportResult(
        format="lm-eval",
        source=str(root),
        predictions=out,
        items=items,
        extra_columns=extras,
        files=[str(f) for f in files],
        warnings=warnings,
        meta={
            "tasks": sorted(df["task"].unique()),
            "models": sorted(set(meta_models.values())),
            "filters": sorted(df["_filter"].unique()),
            "primary_filters": {str(t): str(f) for t, f in first_filter.items()},
        },
    )
