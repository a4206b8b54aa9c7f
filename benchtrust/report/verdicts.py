"""Reliability verdicts: one traffic light per audit, each produced by a written-down rule.

The rules live here as data (:data:`RULES`) and the report prints the same table, so what the code decides
and what the reader is told cannot drift apart. Statuses:

- ``green``  the audit found nothing that weakens the headline number;
- ``amber``  read the number with the caveat the verdict names;
- ``red``    the number, as published, is misleading without the caveat;
- ``n/a``    the audit could not be run on this data (too few items, no option probabilities, one template…).
  It is never counted as green: the report says why it is missing.

The overall verdict is the worst of the measured ones (red > amber > green); ``n/a`` when nothing was measured.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from typing_extensions import TypeIs  # typing.TypeIs is 3.13+

GREEN, AMBER, RED, NA = "green", "amber", "red", "n/a"
_ORDER = {NA: -1, GREEN: 0, AMBER: 1, RED: 2}


@dataclass(frozen=True)
class Rule:
    """One audit's rule. ``green_max`` / ``amber_max``: the value is green when ≤ green_max, amber when
    ≤ amber_max, red above (for p-value rules the comparison is reversed: see ``higher_is_better``)."""

    audit: str
    title: str
    measures: str
    green: str
    amber: str
    red: str
    not_applicable: str
    green_max: float
    amber_max: float
    higher_is_better: bool = False

    def status(self, value: float) -> str:
        if self.higher_is_better:
            return GREEN if value >= self.green_max else AMBER if value >= self.amber_max else RED
        return GREEN if value <= self.green_max else AMBER if value <= self.amber_max else RED


# minimum scored items for the calibration verdict (ECE is biased upwards at small n)
MIN_ITEMS_CALIBRATION = 30
# Cochran's rule for the χ² approximation: every expected count ≥ 5
MIN_EXPECTED_CHI2 = 5.0

RULES: list[Rule] = [
    Rule(
        "interval",
        "Interval width",
        "full width of the 95% Wilson interval of the headline accuracy (ci_high − ci_low)",
        "≤ 5 points: the score is known to within ±2.5 points",
        "≤ 10 points: differences of a few points are inside the noise",
        "> 10 points: too few items to tell models a few points apart",
        "the benchmark has no scored items (e.g. generations not executed)",
        0.05,
        0.10,
    ),
    Rule(
        "prompt_spread",
        "Prompt spread",
        "max − min accuracy over the prompt templates of the grid, same items, primary coordinates",
        "≤ 2 points: the wording of the prompt barely moves the score",
        "≤ 5 points: the score depends on the template; say which one was used",
        "> 5 points: the template choice moves the score more than most reported gaps",
        "only one template in the grid: prompt sensitivity was not measured",
        0.02,
        0.05,
    ),
    Rule(
        "duplicates",
        "Duplicate items",
        "share of the benchmark's items that duplicate an earlier item (normalised question and options)",
        "≤ 1% of items",
        "≤ 5% of items: duplicates weigh double in the score",
        "> 5% of items: the score over-counts repeated questions",
        "the benchmark has no items",
        0.01,
        0.05,
    ),
    Rule(
        "quarantine",
        "Quarantined rows",
        "input rows rejected by a row rule (file, row and rule listed below) as a share of all input rows",
        "no row rejected",
        "< 1% of rows rejected",
        "≥ 1% of rows rejected: the benchmark scored is not the one published",
        "the benchmark has no input rows",
        0.0,
        0.01 - 1e-12,
    ),
    Rule(
        "position_bias",
        "Answer-position bias",
        "χ² goodness of fit of the predicted answer positions to the gold positions of the same items "
        "(marts.calibration position_chi2 / position_df; the p-value by scipy), p-value",
        "p ≥ 0.05: no evidence the model favours a position",
        "0.001 ≤ p < 0.05: some preference for a position; check accuracy by position",
        "p < 0.001: the model picks some positions far more often than the key has them",
        f"not a multiple-choice benchmark, or an expected count below {MIN_EXPECTED_CHI2:g} (Cochran's rule)",
        0.05,
        0.001,
        higher_is_better=True,
    ),
    Rule(
        "calibration",
        "Calibration (ECE)",
        "expected calibration error, 10 equal-width bins, of the top-label confidence (the softmax probability "
        "of the chosen option) against correctness (marts.calibration.ece)",
        "ECE ≤ 0.05: the model's confidence tracks its accuracy",
        "ECE ≤ 0.15: confidences are rough",
        "ECE > 0.15: the confidences mean little",
        f"no option probabilities, or fewer than {MIN_ITEMS_CALIBRATION} scored items",
        0.05,
        0.15,
    ),
    Rule(
        "decoding_gap",
        "Greedy vs sampling",
        "|greedy accuracy − mean accuracy of the K sampled decodings| on the same items (marts.decoding_gap)",
        "≤ 2 points: the decoding mode barely moves the score",
        "≤ 5 points: say which decoding the headline used",
        "> 5 points: the score depends on the decoding more than most reported gaps",
        "the grid does not decode the same items both greedily and by sampling",
        0.02,
        0.05,
    ),
]
RULES_BY_AUDIT = {r.audit: r for r in RULES}


@dataclass
class Verdict:
    audit: str
    title: str
    status: str
    value: float | None
    shown: str  # the value as the report prints it
    rule: str  # the rule that produced the status, in words
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(v: Any) -> TypeIs[float]:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _verdict(audit: str, value: float | None, shown: str, detail: str = "", na_reason: str | None = None) -> Verdict:
    rule = RULES_BY_AUDIT[audit]
    if na_reason is not None or not _finite(value):
        return Verdict(audit, rule.title, NA, None, "—", na_reason or rule.not_applicable, detail)
    status = rule.status(float(value))
    return Verdict(audit, rule.title, status, float(value), shown, getattr(rule, status), detail)


def interval_verdict(h: dict[str, Any]) -> Verdict:
    lo, hi, n = h.get("ci_low"), h.get("ci_high"), h.get("n_scored") or 0
    if not (_finite(lo) and _finite(hi)) or not n:
        return _verdict("interval", None, "")
    width = float(hi) - float(lo)
    return _verdict(
        "interval",
        width,
        f"{100 * width:.1f} points",
        f"{_pct(lo)} – {_pct(hi)} on n = {n} items ({h.get('ci_method') or 'wilson'})",
    )


def prompt_spread_verdict(h: dict[str, Any]) -> Verdict:
    spread, k = h.get("prompt_spread"), h.get("n_templates") or 0
    if k < 2 or not _finite(spread):
        return _verdict("prompt_spread", None, "")
    return _verdict(
        "prompt_spread",
        spread,
        f"{100 * float(spread):.1f} points",
        f"over {k} templates: {_pct(h['template_acc_min'])} – {_pct(h['template_acc_max'])}"
        if _finite(h.get("template_acc_min")) and _finite(h.get("template_acc_max"))
        else f"over {k} templates",
    )


def duplicates_verdict(h: dict[str, Any]) -> Verdict:
    # n_duplicate_items counts the items this report ran (marts.reliability_report), so the share is of those
    n, d = h.get("n_items") or h.get("benchmark_items") or 0, h.get("n_duplicate_items") or 0
    if not n:
        return _verdict("duplicates", None, "")
    return _verdict("duplicates", d / n, _pct(d / n), f"{d} of the {n} items run")


def quarantine_verdict(h: dict[str, Any]) -> Verdict:
    n, q = h.get("benchmark_items") or 0, h.get("n_quarantined") or 0
    if not n + q:
        return _verdict("quarantine", None, "")
    share = q / (n + q)
    return _verdict("quarantine", share, f"{q} rows ({_pct(share)})", f"{q} of {n + q} input rows rejected")


def position_bias_verdict(bias: dict[str, Any] | None) -> Verdict:
    if not bias:
        return _verdict("position_bias", None, "")
    if bias.get("min_expected", 0) < MIN_EXPECTED_CHI2:
        return _verdict(
            "position_bias",
            None,
            "",
            na_reason=(
                f"too few items for the χ² test: the smallest expected count is {bias.get('min_expected', 0):.1f} "
                f"(< {MIN_EXPECTED_CHI2:g}, Cochran's rule)"
            ),
        )
    p = bias.get("p_value")
    return _verdict(
        "position_bias",
        p,
        f"p = {p:.2g}" if _finite(p) else "—",
        f"χ² = {bias['chi2']:.1f}, {bias['dof']} df, n = {bias['n']}" if _finite(bias.get("chi2")) else "",
    )


def calibration_verdict(cal: dict[str, Any] | None) -> Verdict:
    if not cal:
        return _verdict("calibration", None, "")
    if cal.get("n", 0) < MIN_ITEMS_CALIBRATION:
        return _verdict(
            "calibration",
            None,
            "",
            na_reason=(
                f"only {cal.get('n', 0)} scored items (< {MIN_ITEMS_CALIBRATION}): ECE is biased upwards at small n"
            ),
        )
    ece = cal.get("ece")
    return _verdict(
        "calibration",
        ece,
        f"ECE = {ece:.3f}" if _finite(ece) else "—",
        f"top-label Brier = {cal['brier_top_label']:.3f}, n = {cal['n']}"
        if _finite(cal.get("brier_top_label"))
        else "",
    )


def decoding_gap_verdict(dg: dict[str, Any] | None) -> Verdict:
    gap = (dg or {}).get("gap")
    if not dg or not dg.get("n_items") or not _finite(gap):
        return _verdict("decoding_gap", None, "")
    ci = (
        f", 95% interval {100 * dg['gap_ci_low']:+.1f} to {100 * dg['gap_ci_high']:+.1f}"
        if _finite(dg.get("gap_ci_low")) and _finite(dg.get("gap_ci_high"))
        else ""
    )
    return _verdict(
        "decoding_gap",
        abs(float(gap)),
        f"{100 * float(gap):+.1f} points",
        f"greedy {_pct(dg['greedy_accuracy'])} vs {dg['n_samples']} samples {_pct(dg['sample_accuracy_mean'])}"
        f" on {dg['n_items']} items{ci}",
    )


def evaluate(headline: dict[str, Any], audits: dict[str, Any] | None = None) -> list[Verdict]:
    """Every audit's verdict for one report, in :data:`RULES` order."""
    audits = audits or {}
    return [
        interval_verdict(headline),
        prompt_spread_verdict(headline),
        duplicates_verdict(headline),
        quarantine_verdict(headline),
        position_bias_verdict(audits.get("position_bias")),
        calibration_verdict(audits.get("calibration")),
        decoding_gap_verdict(audits.get("decoding_gap")),
    ]


def overall(verdicts: list[Verdict] | list[dict[str, Any]]) -> str:
    """The worst measured status; ``n/a`` when no audit could be run."""
    statuses = [v["status"] if isinstance(v, dict) else v.status for v in verdicts]
    worst = max(statuses, key=lambda s: _ORDER[s], default=NA)
    return worst


def rules_table() -> list[dict[str, Any]]:
    """The rules as the report prints them."""
    return [
        {
            "audit": r.audit,
            "title": r.title,
            "measures": r.measures,
            "green": r.green,
            "amber": r.amber,
            "red": r.red,
            "not_applicable": r.not_applicable,
        }
        for r in RULES
    ]
