"""Model-based membership signals (AUDITS.md audit 8c, 8d): was this text in the model's training data?

What the inference layer keeps is not enough: ``predictions.token_logprobs`` holds the log-probabilities of
the *gold continuation* only — one token (" A") for lettered multiple choice — and no statistics of the
vocabulary distribution. So these signals come from an extra pass that scores the item text itself
(question and choices, :func:`benchtrust.contamination.corpora.item_text`) with the model, keeping per token
the log-probability of the actual token and the mean μ and SD σ of log p under the model's next-token
distribution (what Min-K%++ needs). From those:

- perplexity = exp(−mean log p)
- zlib ratio = log(perplexity) / zlib-compressed bytes of the text (Carlini et al. 2021)
- Min-K% Prob = mean of the lowest k = 20% token log-probabilities (Shi et al. 2024)
- Min-K%++ = mean of the lowest k% of (log p − μ)/σ (Zhang et al. 2024)
- prefix completion: the first 32 tokens → 32 greedy tokens; share of tokens equal to the text's own next
  32 (and whether all are): verbatim memorisation when high

Higher = more member-like for Min-K%, Min-K%++ and the probe; lower for perplexity and the zlib ratio.
**Weak evidence**: MIMIR (Duan et al. 2024) finds near-random AUROC for these scores on Pythia models and the
Pile; report them as scores that rank items, not as flags. :func:`auroc` is the rank-sum AUROC used to check
them on whatever labelled (or proxy) member / non-member texts exist.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_K = 0.2
PREFIX_TOKENS = 32
PROBE_TOKENS = 32
SIGNAL_COLUMNS = [
    "n_tokens",
    "mean_logprob",
    "perplexity",
    "zlib_bytes",
    "zlib_ratio",
    "min_k",
    "min_k_prob",
    "min_k_plus_plus",
]
PROBE_COLUMNS = ["prefix_tokens", "probe_tokens", "prefix_match_tokens", "prefix_match_share", "prefix_exact"]


def lowest_k_mean(x: np.ndarray, k: float) -> float:
    """Mean of the lowest ceil(k·n) values (at least one)."""
    if len(x) == 0:
        return float("nan")
    m = max(1, int(math.ceil(k * len(x))))
    return float(np.mean(np.partition(x, m - 1)[:m]))


def signals_from_logprobs(
    token_logprobs: ArrayLike,
    text: str,
    mu: ArrayLike | None = None,
    sigma: ArrayLike | None = None,
    k: float = DEFAULT_K,
) -> dict[str, Any]:
    """The membership scores of one text from its token log-probabilities (and μ, σ per token for Min-K%++;
    without them Min-K%++ is NaN — the case of predictions that kept only the gold continuation's tokens)."""
    lp = np.asarray(token_logprobs, dtype=np.float64)
    n = len(lp)
    mean = float(lp.mean()) if n else float("nan")
    ppl = float(math.exp(-mean)) if n else float("nan")
    zb = len(zlib.compress(text.encode("utf-8")))
    out = {
        "n_tokens": n,
        "mean_logprob": mean,
        "perplexity": ppl,
        "zlib_bytes": zb,
        "zlib_ratio": (math.log(ppl) / zb) if n and zb else float("nan"),
        "min_k": k,
        "min_k_prob": lowest_k_mean(lp, k),
        "min_k_plus_plus": float("nan"),
    }
    if mu is not None and sigma is not None and n:
        z = (lp - np.asarray(mu, dtype=np.float64)) / np.maximum(np.asarray(sigma, dtype=np.float64), 1e-6)
        out["min_k_plus_plus"] = lowest_k_mean(z, k)
    return out


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve by the rank-sum (Mann–Whitney) formula, ties counted half: P(score of a
    member > score of a non-member). NaN scores are dropped."""
    from scipy.stats import rankdata

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    ok = ~np.isnan(s)
    s, y = s[ok], y[ok]
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


@dataclass
class ScoredText:
    token_logprobs: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    token_ids: list[int]


class MembershipScorer:
    """Scores texts with a causal LM (a TransformersEngine's model and tokenizer, or any pair)."""

    def __init__(self, model, tokenizer, device: str = "cpu", max_tokens: int = 512):
        self.model, self.tokenizer, self.device, self.max_tokens = model, tokenizer, device, max_tokens

    @classmethod
    def from_engine(cls, engine, max_tokens: int = 512) -> MembershipScorer:
        if not hasattr(engine, "model") or not hasattr(engine, "tokenizer"):
            raise TypeError(
                "membership signals need an in-process model (TransformersEngine); a served model "
                "(OpenAI-compatible engine) exposes no next-token distribution"
            )
        return cls(engine.model, engine.tokenizer, engine.device, max_tokens)

    def _ids(self, text: str) -> list[int]:
        ids = self.tokenizer(text, add_special_tokens=False).input_ids[: self.max_tokens]
        return ids

    def _start(self) -> int:
        t = self.tokenizer
        for tid in (t.bos_token_id, t.eos_token_id):
            if tid is not None:
                return int(tid)
        return 0

    def score(self, texts: Sequence[str]) -> list[ScoredText]:
        """One forward pass per text, conditioned on a BOS (or EOS) token like the harness does for an empty
        context, so every token of the text is scored."""
        import torch

        out = []
        with torch.inference_mode():
            for text in texts:
                ids = self._ids(text)
                if not ids:
                    out.append(ScoredText(np.zeros(0), np.zeros(0), np.zeros(0), []))
                    continue
                inp = torch.tensor([[self._start(), *ids]], device=self.device)
                logits = self.model(input_ids=inp).logits[0, :-1].float()
                logp = torch.log_softmax(logits, dim=-1)
                tgt = torch.tensor(ids, device=self.device)
                lp = logp.gather(1, tgt[:, None])[:, 0]
                p = logp.exp()
                mu = (p * logp).sum(-1)
                var = (p * logp * logp).sum(-1) - mu * mu
                sigma = var.clamp_min(0).sqrt()
                out.append(ScoredText(lp.cpu().numpy(), mu.cpu().numpy(), sigma.cpu().numpy(), ids))
        return out

    def prefix_probe(
        self, scored: ScoredText, prefix: int = PREFIX_TOKENS, probe: int = PROBE_TOKENS
    ) -> dict[str, Any]:
        """First ``prefix`` tokens → ``probe`` greedy tokens, compared with the text's own next tokens. Texts
        shorter than prefix + 1 tokens are not probed (NULL); shorter targets are compared as far as they go."""
        import torch

        ids = scored.token_ids
        if len(ids) <= prefix:
            return {
                "prefix_tokens": prefix,
                "probe_tokens": 0,
                "prefix_match_tokens": None,
                "prefix_match_share": None,
                "prefix_exact": None,
            }
        target = ids[prefix : prefix + probe]
        inp = torch.tensor([[self._start(), *ids[:prefix]]], device=self.device)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self._start()
        with torch.inference_mode():
            gen = self.model.generate(
                inp,
                attention_mask=torch.ones_like(inp),
                max_new_tokens=len(target),
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=pad,
            )
        got = gen[0, inp.shape[1] :].tolist()
        match = sum(int(a == b) for a, b in zip(got, target))
        return {
            "prefix_tokens": prefix,
            "probe_tokens": len(target),
            "prefix_match_tokens": match,
            "prefix_match_share": match / len(target),
            "prefix_exact": bool(match == len(target)),
        }


def membership_frame(
    scorer: MembershipScorer,
    texts: Sequence[str],
    k: float = DEFAULT_K,
    probe: bool = True,
    probe_limit: int | None = None,
) -> Any:
    """Signals of each text as a DataFrame (rows in order); the probe (a generate call per text, the costly
    part) runs on the first ``probe_limit`` texts only when given."""
    import pandas as pd

    rows = []
    for i, (text, sc) in enumerate(zip(texts, scorer.score(texts))):
        row = signals_from_logprobs(sc.token_logprobs, text, sc.mu, sc.sigma, k)
        if probe and (probe_limit is None or i < probe_limit):
            row.update(scorer.prefix_probe(sc))
        else:
            row.update(
                {
                    "prefix_tokens": PREFIX_TOKENS,
                    "probe_tokens": 0,
                    "prefix_match_tokens": None,
                    "prefix_match_share": None,
                    "prefix_exact": None,
                }
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=SIGNAL_COLUMNS + PROBE_COLUMNS)
