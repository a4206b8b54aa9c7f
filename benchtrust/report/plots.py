"""Plots for the reports, as inline SVG (matplotlib, Agg backend): the report stays one self-contained file.

Every function takes the numbers the report's JSON carries and returns ``<svg …>…</svg>`` markup, or ``None``
when there is nothing honest to draw. Text stays text (``svg.fonttype = none``) and is XML-escaped by
matplotlib; ids are prefixed per figure so several figures can share one page; ``$`` is escaped so labels
never turn into mathtext. matplotlib is imported inside :func:`_figure`, so importing this module is cheap.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import Any

BLUE, GREY, ORANGE, RED = "#3b6fb6", "#8c959f", "#d4760a", "#cf222e"
_counter = 0


def _label(s: Any) -> str:
    return str(s).replace("$", r"\$")


def _figure(w: float, h: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    matplotlib.rcParams.update(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "benchtrust",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return plt.subplots(figsize=(w, h))


def _svg(fig, title: str) -> str:
    import matplotlib.pyplot as plt

    global _counter
    buf = io.StringIO()
    fig.tight_layout()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    _counter += 1
    prefix = f"bt{_counter}-"
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    # accessible name; the title text is ours (model / benchmark names are safe names), escape anyway
    esc = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{esc}" class="plot" ', 1)
    return svg


def _ok(v: Any) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def _with_interval(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows a forest plot can draw: a finite accuracy and both interval ends."""
    return [r for r in rows if _ok(r.get("accuracy")) and _ok(r.get("ci_low")) and _ok(r.get("ci_high"))]


# a model's own report plots its neighbourhood in the ranking, not every model: plotting all of them made each report
# cost O(models) and a refresh of every report O(models²) (the reports step at 100 models × 1,400 items: 118 s,
# half of it laying out the forest plots' labels; benchmarks/scaling.py). The benchmark page plots them all.
FOREST_TOP = 5
FOREST_AROUND = 5


def forest_window(
    rows: Sequence[dict[str, Any]], model: str | None, top: int = FOREST_TOP, around: int = FOREST_AROUND
) -> tuple[list[dict[str, Any]], int]:
    """The rows a model's report plots: the ``top`` best models and ``around`` ranks on either side of ``model``
    (all rows when that is not fewer), and how many plottable rows there were."""
    ranked = sorted(_with_interval(rows), key=lambda r: -r["accuracy"])
    mine = next((i for i, r in enumerate(ranked) if r.get("model") == model), None)
    if mine is None or len(ranked) <= top + 2 * around + 1:
        return ranked, len(ranked)
    keep = set(range(top)) | set(range(max(0, mine - around), min(len(ranked), mine + around + 1)))
    return [ranked[i] for i in sorted(keep)], len(ranked)


def forest_plot(rows: Sequence[dict[str, Any]], highlight: str | None = None, title: str = "") -> str | None:
    """Accuracy with its 95% interval, one line per model (rows: model, accuracy, ci_low, ci_high, n_scored)."""
    rows = _with_interval(rows)
    if not rows:
        return None
    rows = sorted(rows, key=lambda r: r["accuracy"])
    fig, ax = _figure(6.4, 0.9 + 0.38 * len(rows))
    for y, r in enumerate(rows):
        c = BLUE if r.get("model") == highlight or highlight is None else GREY
        ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=c, lw=2.2, solid_capstyle="butt")
        ax.plot([r["accuracy"]], [y], "o", color=c, ms=6)
        ax.annotate(
            f"{100 * r['accuracy']:.1f}%  (n={r.get('n_scored')})",
            (r["ci_high"], y),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color="#444",
        )
    ax.set_yticks(range(len(rows)), [_label(r.get("model")) for r in rows])
    ax.set_xlim(0, 1.18)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
    ax.set_xlabel("accuracy, 95% Wilson interval")
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.grid(axis="x", color="#eee")
    if title:
        ax.set_title(_label(title), fontsize=10, loc="left")
    return _svg(fig, "interval forest plot across models")


def template_plot(templates: Sequence[dict[str, Any]]) -> str | None:
    """Accuracy per prompt template with Wilson intervals; the headline template in blue."""
    rows = [t for t in templates if _ok(t.get("accuracy"))]
    if not rows:
        return None
    fig, ax = _figure(6.4, 0.9 + 0.38 * len(rows))
    for y, t in enumerate(rows):
        c = BLUE if t.get("is_headline") else GREY
        ax.barh([y], [t["accuracy"]], color=c, alpha=0.35, height=0.6)
        if _ok(t.get("ci_low")) and _ok(t.get("ci_high")):
            ax.plot([t["ci_low"], t["ci_high"]], [y, y], color=c, lw=2)
        ax.plot([t["accuracy"]], [y], "o", color=c, ms=5)
    ax.set_yticks(
        range(len(rows)), [_label(t["template_id"]) + (" (headline)" if t.get("is_headline") else "") for t in rows]
    )
    ax.set_xlim(0, 1)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
    ax.set_xlabel("accuracy on the same items, 95% Wilson interval")
    ax.grid(axis="x", color="#eee")
    return _svg(fig, "score by prompt template")


def seed_plot(configs: Sequence[dict[str, Any]]) -> str | None:
    """Accuracy of the headline template per few-shot seed / answer-order permutation / sample (when the grid
    has more than one)."""
    rows = [c for c in configs if _ok(c.get("accuracy"))]
    if len(rows) < 2:
        return None
    fig, ax = _figure(6.4, 2.2)
    xs = list(range(len(rows)))
    ax.plot(xs, [r["accuracy"] for r in rows], "o", color=BLUE)
    mean = sum(r["accuracy"] for r in rows) / len(rows)
    ax.axhline(mean, color=GREY, lw=1, ls="--")
    ax.set_xticks(xs, [_label(r["label"]) for r in rows], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("accuracy")
    ax.set_title(
        f"{len(rows)} seed / sample configurations; spread {100 * (max(r['accuracy'] for r in rows) - min(r['accuracy'] for r in rows)):.1f} points",
        fontsize=9,
        loc="left",
    )
    return _svg(fig, "seed and sample spread")


def calibration_plot(cal: dict[str, Any] | None) -> str | None:
    """Reliability diagram: accuracy vs mean confidence per bin, bar width ∝ items; the diagonal is perfect."""
    if not cal or not cal.get("bins"):
        return None
    bins = [b for b in cal["bins"] if b["count"] > 0]
    if not bins:
        return None
    fig, ax = _figure(4.2, 3.6)
    ax.plot([0, 1], [0, 1], color=GREY, lw=1, ls="--")
    total = sum(b["count"] for b in bins)
    for b in bins:
        width = (b["hi"] - b["lo"]) * 0.9
        ax.bar(
            [(b["lo"] + b["hi"]) / 2], [b["accuracy"]], width=width, color=BLUE, alpha=0.25 + 0.6 * b["count"] / total
        )
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", color=BLUE, ms=4)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence of the chosen option")
    ax.set_ylabel("accuracy")
    ax.set_title(
        f"ECE {cal['ece']:.3f} (10 bins, n={cal['n']})" if _ok(cal.get("ece")) else "calibration",
        fontsize=9,
        loc="left",
    )
    return _svg(fig, "calibration curve")


def position_plot(bias: dict[str, Any] | None) -> str | None:
    """Predicted vs gold answer positions (shares), and accuracy by gold position."""
    if not bias or not bias.get("pred_counts"):
        return None
    k = len(bias["pred_counts"])
    labels = [chr(ord("A") + i) for i in range(k)]
    n_pred = max(sum(bias["pred_counts"]), 1)
    n_gold = max(sum(bias["gold_counts"]), 1)
    fig, ax = _figure(4.6, 3.0)
    xs = list(range(k))
    ax.bar([x - 0.2 for x in xs], [c / n_pred for c in bias["pred_counts"]], width=0.4, color=ORANGE, label="predicted")
    ax.bar([x + 0.2 for x in xs], [c / n_gold for c in bias["gold_counts"]], width=0.4, color=GREY, label="gold")
    ax.set_xticks(xs, labels)
    ax.set_ylabel("share of items")
    ax.legend(frameon=False, fontsize=8)
    p = bias.get("p_value")
    ax.set_title(f"answer positions: χ² p = {p:.2g}" if _ok(p) else "answer positions", fontsize=9, loc="left")
    return _svg(fig, "answer-position bias")


def flips_plot(changes: dict[str, Any] | None) -> str | None:
    """What changed between versions, as counts: items fixed / broken / edited / added / removed."""
    if not changes:
        return None
    cats = [
        ("fixed", changes.get("n_fixed", 0), BLUE),
        ("broken", changes.get("n_broken", 0), RED),
        ("edited", changes.get("n_edited", 0), ORANGE),
        ("added", changes.get("n_added", 0), GREY),
        ("removed", changes.get("n_removed", 0), GREY),
    ]
    if not any(c[1] for c in cats):
        return None
    fig, ax = _figure(5.2, 2.0)
    ax.barh(range(len(cats)), [c[1] for c in cats], color=[c[2] for c in cats])
    for y, c in enumerate(cats):
        ax.annotate(str(c[1]), (c[1], y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(range(len(cats)), [c[0] for c in cats])
    ax.invert_yaxis()
    ax.set_xlabel("items")
    return _svg(fig, "items changed since the previous version")
