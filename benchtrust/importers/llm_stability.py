"""Repeated-runs files of breckbaldwin/llm-stability (Atil et al., "Non-Determinism of 'Deterministic'
LLM Settings"; Apache-2.0), as flattened in ``runs_item_level.csv`` + ``configs.csv`` (+ ``questions.csv``).

``runs_item_level.csv``: experiment, run_dir, file, model, task, config_id, rubric_id (item), run, gt,
response (raw text).  ``configs.csv``: config_id → model_config (temperature, seed, top_p_k, system
prompt, JSON answer schema, fine-tuned model ids, …) and task_config (prompt_type, shots, …), as JSON.
``questions.csv``: experiment, task, rubric_id, the last 1,500 characters of the prompt.

Answers are parsed exactly as the authors' ``evaluate.py`` does (repository @ c089c02e,
``helper_functions.py`` and ``tasks/<task>.py``):

- ``navigate`` (Yes/No): ``parse_string`` — a word-bounded ``Yes``/``No``, case-sensitive first, then
  case-insensitive; both found → ambiguous.
- other tasks: ``parse_parenthesized_answers`` over ``(A)``–``(D)`` (``geometric_shapes``: ``(A)``–``(K)``):
  salience levels last line, last three lines, whole text; within each, the back-off "the answer is (X)",
  exact ``(X)``, case-insensitive ``(x)``, then the bare letter with word boundaries; the first level and
  back-off step that finds exactly one option wins, more than one → ambiguous ("Blown UP").
- correctness = the task's ``correct_fn``: parsed answer == gt, except ``college_mathematics``, whose
  correct_fn first tries the response as JSON ``{"Answer": …}`` and compares that with gt with and without
  the parentheses.  No answer or ambiguous → not correct.
- tasks the authors' code does not know: Yes/No parsing when every gt is Yes/No, else ``(A)``–``(D)``.

Canonical mapping: ``benchmark`` = task, ``item_id`` = ``<task>-<rubric_id:05d>``, ``sample_idx`` = run,
``generation`` = raw response, ``prediction`` = parsed answer with parentheses removed (``(B)`` → ``B``;
``Yes``/``No`` as is; null when none or ambiguous), ``gold`` likewise (a gt that is not an option is
kept as written), extra column ``answer_status`` ∈ {``ok``, ``no_answer``, ``ambiguous``}.
``model_version`` = ``<model>@<hash of model_config>`` and ``template_id`` =
``llm_stability:<task_config as JSON>`` — with ``rubric_counter`` (a per-item counter of the fine-tuned
runs) removed first, as ``evaluate.py`` does before grouping.  ``grid_version`` = hash of ``run_dir``
(one evaluation session; experiments reuse a config_id in several sessions).  ``decoding`` greedy at
temperature 0 (sample otherwise), ``top_p`` = ``top_p_k``, ``is_headline`` = run 0.  Extras: ``experiment``, ``run_dir``,
``config_id``, ``answer_status``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchtrust.hashing import canonical_json, hash_obj
from benchtrust.importers._common import (
    ImportFormatError,
    ImportResult,
    build_items,
    dataset_versions_from_items,
    finish_predictions,
)

__all__ = [
    "TASK_ANSWERS",
    "import_llm_stability",
    "is_correct",
    "parse_answer",
    "parse_parenthesized_answer",
    "parse_string_answer",
]

ABCD = ("(A)", "(B)", "(C)", "(D)")
TASK_ANSWERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "navigate": ("string", ("Yes", "No")),
    "geometric_shapes": ("paren", tuple(f"({c})" for c in "ABCDEFGHIJK")),
    "college_mathematics": ("paren", ABCD),
    "high_school_european_history": ("paren", ABCD),
    "logical_deduction": ("paren", ABCD),
    "professional_accounting": ("paren", ABCD),
    "public_relations": ("paren", ABCD),
    "ruin_names": ("paren", ABCD),
}
JSON_CORRECT_TASKS = frozenset({"college_mathematics"})


class Ambiguous(LookupError):
    """More than one option found at the deciding back-off level (the authors' "Blown UP")."""


@cache
def _paren_patterns(answer: str) -> tuple[re.Pattern[str], ...]:
    esc = answer.replace("(", r"\(").replace(")", r"\)")
    return (
        re.compile(rf"(T|t)he answer is {esc}"),  # 'answer is'
        re.compile(esc),  # 'exact_word'
        re.compile(answer.replace(")", r"\)").replace("(", r"\("), re.IGNORECASE),  # 'case_insensitive'
        re.compile(answer.replace(")", r"\b").replace("(", r"\b"), re.IGNORECASE),  # 'sub_string'
    )


def parse_parenthesized_answer(response: str, answers: Iterable[str] = ABCD) -> str | None:
    """The authors' ``parse_parenthesized_answers``: the unique option named, None, or :class:`Ambiguous`.

    Note the authors' back-off accumulates: options found at an earlier step of the same salience level
    stay in the match set (so a later step can only add, never replace).  The unused ``boxed choice`` and
    ``llm`` steps of the original are no-ops and left out.
    """
    answers = tuple(answers)
    sentences = response.split("\n")
    levels = [sentences[-1:]]
    if len(sentences) > 1:
        levels.append(sentences[-3:])
    if len(sentences) > 3:
        levels.append(sentences)
    matches: set[str] = set()
    for sents in levels:
        text = "\n".join(sents)
        for step in range(4):
            for a in answers:
                if _paren_patterns(a)[step].search(text):
                    matches.add(a)
            if len(matches) == 1:
                return next(iter(matches))
            if len(matches) > 1:
                raise Ambiguous(text)
    return None


def parse_string_answer(response: str, answers: Iterable[str] = ("Yes", "No")) -> str | None:
    """The authors' ``parse_string``: word-bounded, case-sensitive then case-insensitive."""
    if not isinstance(response, str):
        return None
    matches: set[str] = set()
    for flags in (0, re.IGNORECASE):
        for a in answers:
            if re.search(rf"\b{a}\b", response, flags):
                matches.add(a)
        if len(matches) == 1:
            return next(iter(matches))
        if len(matches) > 1:
            raise Ambiguous(response)
    return None


def _rule(task: str, gts: Iterable[str] = ()) -> tuple[str, tuple[str, ...]]:
    if task in TASK_ANSWERS:
        return TASK_ANSWERS[task]
    gts = set(gts)
    if gts and gts <= {"Yes", "No"}:
        return ("string", ("Yes", "No"))
    return ("paren", ABCD)


def parse_answer(task: str, response: str, gts: Iterable[str] = ()) -> tuple[str | None, str]:
    """(parsed answer in the authors' form, status ``ok`` / ``no_answer`` / ``ambiguous``)."""
    kind, answers = _rule(task, gts)
    try:
        a = (
            parse_string_answer(response, answers)
            if kind == "string"
            else parse_parenthesized_answer(response, answers)
        )
    except Ambiguous:
        return None, "ambiguous"
    return (a, "ok") if a is not None else (None, "no_answer")


def is_correct(task: str, response: str, gt: str, parsed: str | None, status: str) -> bool:
    """The task's ``correct_fn`` (None → False: a run without a usable answer is not correct)."""
    if task in JSON_CORRECT_TASKS:
        try:
            ans = json.loads(response)["Answer"]
        except json.JSONDecodeError:
            pass
        else:
            return bool(ans == gt or ans == re.sub(r"[()]", "", gt))
    if status != "ok":
        return False
    return gt == parsed


def _strip_parens(v: str | None) -> str | None:
    if v is None:
        return None
    m = re.fullmatch(r"\(([A-Z])\)", v)
    return m.group(1) if m else v


def _files(path: Path) -> tuple[Path, Path, Path | None]:
    folder = path if path.is_dir() else path.parent
    runs = path if path.is_file() else folder / "runs_item_level.csv"
    configs = folder / "configs.csv"
    questions = folder / "questions.csv"
    for f in (runs, configs):
        if not f.exists():
            raise ImportFormatError(
                str(f), "not_found", "llm_stability import needs runs_item_level.csv and configs.csv in one folder"
            )
    return runs, configs, questions if questions.exists() else None


def _read_runs(
    path: Path, experiment: str | Iterable[str] | None
) -> tuple[pd.DataFrame, pd.DataFrame, Path, Path, Path | None]:
    """The runs (checked columns and natural-number ids, filtered to ``experiment``) and the configurations;
    errors name the file, the row and the rule."""
    runs_f, cfg_f, q_f = _files(path)
    need = ["experiment", "run_dir", "model", "task", "config_id", "rubric_id", "run", "gt", "response"]
    runs = pd.read_csv(runs_f, dtype=str, keep_default_na=False)
    miss = [c for c in need if c not in runs.columns]
    if miss:
        raise ImportFormatError(str(runs_f), "missing_column", f"columns {miss} absent")
    if experiment is not None:
        keep = [experiment] if isinstance(experiment, str) else list(experiment)
        runs = runs[runs["experiment"].isin(keep)]
        if runs.empty:
            raise ImportFormatError(str(runs_f), "empty", f"no rows for experiment(s) {keep}")
    cfg = pd.read_csv(cfg_f, dtype=str, keep_default_na=False).set_index("config_id")
    unknown = sorted(set(runs["config_id"]) - set(cfg.index))
    if unknown:
        raise ImportFormatError(str(cfg_f), "unknown_config", f"config ids {unknown[:5]} not in configs.csv")
    for c in ("rubric_id", "run"):
        bad = ~runs[c].str.fullmatch(r"\d+")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ImportFormatError(
                str(runs_f), "bad_value", f"{c} {runs[c].iloc[i]!r} is not a natural number", row=int(runs.index[i]) + 1
            )

    return runs, cfg, runs_f, cfg_f, q_f


def _config_info(cfg: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per configuration: a key of the model settings (without the rubric counter), the task template, the
    sampling temperature and top-p."""
    cinfo: dict[str, dict[str, Any]] = {}
    for cid, r in cfg.iterrows():
        mc = json.loads(r["model_config"])
        mc.pop("rubric_counter", None)
        tc = json.loads(r["task_config"])
        cinfo[cid] = {
            "mc_key": hash_obj(mc, 10),
            "template_id": "llm_stability:" + canonical_json(tc),
            "temperature": float(mc.get("temperature", 0.0) or 0.0),
            "top_p": mc.get("top_p_k"),
        }
    return cinfo


def _predictions(runs: pd.DataFrame, cinfo: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One prediction per run row: the parsed answer, its status and whether it is right."""
    cid = runs["config_id"]
    gts_by_task = runs.groupby("task")["gt"].agg(lambda s: set(s)).to_dict()

    parsed, status, correct = [], [], []
    for task, resp, gt in zip(runs["task"], runs["response"], runs["gt"]):
        a, st = parse_answer(task, resp, gts_by_task[task])
        parsed.append(a)
        status.append(st)
        correct.append(is_correct(task, resp, gt, a, st))

    task = runs["task"].to_numpy(dtype=object)
    item_id = [f"{t}-{int(r):05d}" for t, r in zip(task, runs["rubric_id"])]
    temperature = cid.map(lambda c: cinfo[c]["temperature"])
    df = pd.DataFrame(
        {
            "model": runs["model"].to_numpy(dtype=object),
            "model_version": [f"{m}@{cinfo[c]['mc_key']}" for m, c in zip(runs["model"], cid)],
            "benchmark": task,
            "grid_version": ["run-" + hash_obj(d, 12) for d in runs["run_dir"]],
            "item_id": item_id,
            "task_type": "multiple_choice",
            "template_id": cid.map(lambda c: cinfo[c]["template_id"]).to_numpy(dtype=object),
            "decoding": np.where(temperature.to_numpy() > 0, "sample", "greedy"),
            "temperature": temperature.to_numpy(),
            "top_p": cid.map(lambda c: cinfo[c]["top_p"]).to_numpy(),
            "sample_idx": runs["run"].astype(int).to_numpy(),
            "is_headline": runs["run"].astype(int).to_numpy() == 0,
            "prediction": [_strip_parens(a) for a in parsed],
            "predicted_index": [
                ("ABCDEFGHIJK".index(p[1]) if p and len(p) == 3 and p[0] == "(" else None) for p in parsed
            ],
            "gold": [_strip_parens(g) for g in runs["gt"]],
            "is_correct": correct,
            "score": np.asarray(correct, dtype=float),
            "generation": runs["response"].to_numpy(dtype=object),
            "experiment": runs["experiment"].to_numpy(dtype=object),
            "run_dir": runs["run_dir"].to_numpy(dtype=object),
            "config_id": cid.to_numpy(dtype=object),
            "answer_status": status,
        }
    )
    return df


def _items(runs: pd.DataFrame, runs_f: Path, q_f: Path | None) -> pd.DataFrame:
    """The items of the runs, with the question text from questions.csv when present (else the gold only)."""
    keys = runs[["experiment", "task", "rubric_id", "gt"]].drop_duplicates(["task", "rubric_id"])
    text: dict[tuple[str, str], str] = {}
    if q_f is not None:
        q = pd.read_csv(q_f, dtype=str, keep_default_na=False)
        col = next((c for c in q.columns if c.startswith("question")), None)
        if col is not None:
            for t, r, s in zip(q["task"], q["rubric_id"], q[col]):
                text.setdefault((t, r), s)
    return build_items(
        pd.DataFrame(
            {
                "benchmark": keys["task"].to_numpy(),
                "item_id": [f"{t}-{int(r):05d}" for t, r in zip(keys["task"], keys["rubric_id"])],
                "task_type": "multiple_choice",
                "input": [text.get((t, r), "") for t, r in zip(keys["task"], keys["rubric_id"])],
                "choices": [[] for _ in range(len(keys))],
                "gold": [_strip_parens(g) for g in keys["gt"]],
                "gold_index": [("ABCDEFGHIJK".index(g[1]) if len(g) == 3 and g[0] == "(" else -1) for g in keys["gt"]],
                "subject": keys["task"].to_numpy(),
                "metadata": [json.dumps({"rubric_id": int(r)}) for r in keys["rubric_id"]],
                "source_file": str(q_f or runs_f),
                "source_row": 0,
            }
        )
    )


def import_llm_stability(
    path: str | Path,
    *,
    experiment: str | Iterable[str] | None = None,
    **_: Any,
) -> ImportResult:
    """Read the llm_stability repeated runs (module docstring).

    Args:
        path: the folder holding runs_item_level.csv and configs.csv (or the runs file itself).
        experiment: keep only this experiment (or these), e.g. ``strict_json_schema``.
    """
    runs, cfg, runs_f, cfg_f, q_f = _read_runs(Path(path), experiment)
    df = _predictions(runs, _config_info(cfg))
    items = _items(runs, runs_f, q_f)
    dv = dataset_versions_from_items(items)
    hashes = items.set_index("item_id")["item_hash"]
    df["dataset_version"] = df["benchmark"].map(dv)
    df["item_hash"] = df["item_id"].map(hashes)
    extras = ["experiment", "run_dir", "config_id", "answer_status"]
    out = finish_predictions(df, "llm-stability", str(runs_f), extra_columns=extras)
    warnings = []
    n_amb = int((df["answer_status"] == "ambiguous").sum())
    n_none = int((df["answer_status"] == "no_answer").sum())
    if n_amb or n_none:
        warnings.append(f"{n_none} response(s) without a parsable answer, {n_amb} ambiguous: scored as wrong")
    return ImportResult(
        format="llm-stability",
        source=str(path),
        predictions=out,
        items=items,
        extra_columns=extras,
        files=[str(runs_f), str(cfg_f)] + ([str(q_f)] if q_f else []),
        warnings=warnings,
        meta={"experiments": sorted(runs["experiment"].unique()), "n_no_answer": n_none, "n_ambiguous": n_amb},
    )
