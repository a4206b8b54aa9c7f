"""Time of the benchmark page's pair section against the number of models (issue 11, super-linear steps).

The page used to compute an exact McNemar minimum detectable effect for every pair (a root search over exact
powers, ~25 ms at n = 14k): 45 pairs at 10 models, 44,850 at 300. It now formats the mart's normal approximation
above EXACT_MDE_MAX_N shared items. For each size this script builds a real DuckDB warehouse with the mart tables
(tests/unit/benchmark_page_warehouse.py; n = 14,014 items, as HELM MMLU), then measures

- ``new_s``: build_indexes + render_index_html (+ Markdown), i.e. the whole page with its matrix, as shipped;
- ``old_exact_s_estimate``: the old per-pair exact computation, timed on a sample of pairs (cache cleared before
  each) and multiplied by the number of pairs — an extrapolation, said so in the result.

Usage: python benchmarks/benchmark_page.py [--sizes 10 30 100 300] [--out benchmarks/results/benchmark_page.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchtrust.report import changes as ch  # noqa: E402
from benchtrust.report.index import build_indexes  # noqa: E402
from benchtrust.report.render import render_index_html, render_index_markdown  # noqa: E402
from tests.unit import benchmark_page_warehouse as bpw  # noqa: E402

N_ITEMS = 14_014
SAMPLE = 20


def measure(n_models: int, work: Path) -> dict[str, object]:
    """One size: the shipped page and the old exact per-pair cost on a sample."""
    path = bpw.build_large(work / f"w{n_models}.duckdb", n_models=n_models, n_items=N_ITEMS)
    t0 = time.perf_counter()
    [ix] = build_indexes(path, work / "reports")
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    html = render_index_html(ix)
    md = render_index_markdown(ix)
    t_render = time.perf_counter() - t0
    sample = ix.comparisons[:: max(1, len(ix.comparisons) // SAMPLE)][:SAMPLE]
    t0 = time.perf_counter()
    for c in sample:
        ch._mde.cache_clear()
        ch._power.cache_clear()
        ch.paired_power(c["n_shared"], c["acc_this"], c["acc_other"], c["agreement"])
    per_pair = (time.perf_counter() - t0) / len(sample)
    return {
        "n_models": n_models,
        "n_pairs": len(ix.comparisons),
        "n_items": N_ITEMS,
        "mde_methods": ix.mde_methods,
        "new_build_s": round(t_build, 3),
        "new_render_s": round(t_render, 3),
        "new_s": round(t_build + t_render, 3),
        "html_bytes": len(html.encode()),
        "md_bytes": len(md.encode()),
        "old_exact_per_pair_ms": round(1000 * per_pair, 2),
        "old_exact_s_estimate": round(per_pair * len(ix.comparisons), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 100, 300])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "benchmark_page.json")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bt-page-") as tmp:
        for n in args.sizes:
            rows.append(measure(n, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    out = {
        "what": "benchmark page (matrix of paired differences) build + render time by number of models",
        "caveat": "old_exact_s_estimate = exact per-pair time on a sample of pairs × pairs (extrapolated, not run "
        "in full); measured on a shared 2-core machine with other jobs running (load average below)",
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
