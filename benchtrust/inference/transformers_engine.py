"""In-process transformers engine: log-likelihood scoring of options and generation.

Scoring follows lm-evaluation-harness's conventions (context and continuation are encoded together and
split at the context's token length, so the same tokens are scored), but computes the shared prompt once:
single-token options (" A".." D") need one forward pass per question, batched by length; longer options
reuse the prompt's key/value cache instead of re-encoding the prompt for every option.
"""

from __future__ import annotations

import importlib.metadata as md
import platform
from collections.abc import Callable, Sequence
from typing import Any

from benchtrust.inference.types import OptionScore, ResolvedModel, truncate_at_stop


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested and requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str, requested: str = "auto"):
    import torch

    if requested and requested != "auto":
        dt = getattr(torch, requested, None)
        if not isinstance(dt, torch.dtype):
            raise ValueError(f"unknown dtype {requested!r}")
        return dt
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def default_token_budget(device: str) -> int:
    """Padded tokens per forward pass. On a GPU, size batches to its memory; on a CPU, small batches win
    (one long question pads the whole batch — the harness's batch 16 is slower than batch 1 on CPU)."""
    import torch

    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info()
        return int(max(8192, min(262_144, free // (1 << 17))))
    return 1024


class TransformersEngine:
    def __init__(self, model: ResolvedModel, device: str = "auto", dtype: str | None = None,
                 attn_implementation: str | None = None, token_budget: int | None = None, max_batch: int = 64):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.spec = model
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype or model.dtype)
        attn = attn_implementation or model.attn_implementation
        kwargs: dict[str, Any] = {"dtype": self.dtype}
        if attn and attn != "auto":
            kwargs["attn_implementation"] = attn
        if model.gguf_file:  # dequantized once and cached (benchtrust.inference.gguf_cache)
            from benchtrust.inference.gguf_cache import load_gguf

            extra = {k: v for k, v in kwargs.items() if k != "dtype"}
            self.tokenizer, self.model = load_gguf(model, self.dtype, extra)
        else:
            rev = {"revision": model.revision} if model.revision else {}
            self.tokenizer = AutoTokenizer.from_pretrained(model.load_path, **rev)
            self.model = AutoModelForCausalLM.from_pretrained(model.load_path, **kwargs, **rev)
        self.model.to(self.device)
        self.model.eval()
        self.attn_implementation = getattr(self.model.config, "_attn_implementation", attn) or "default"
        self.token_budget = token_budget or default_token_budget(self.device)
        self.max_batch = max_batch
        # batch questions that share a cached few-shot prefix (one prefix copy per row), or run them one by one
        # against a single cache cropped back after each; batching measured faster on CPU too (83 s vs 130 s
        # for 12 five-shot questions on a loaded 2-core machine), so it is the default everywhere
        self.batch_shared_prefix = True
        self._prefix_memo: tuple[tuple[int, ...], Any] | None = None  # (prefix token ids, its cache)
        self._torch = torch
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.tokenizer.eos_token_id or 0)

    # ------------------------------------------------------------------ provenance
    def provenance(self) -> dict[str, Any]:
        libs: dict[str, str | None] = {}
        for lib in ("torch", "transformers", "benchtrust", "gguf", "accelerate"):
            try:
                libs[lib] = md.version(lib)
            except md.PackageNotFoundError:
                libs[lib] = None
        dev = self.device
        if dev.startswith("cuda"):
            dev = f"cuda:{self._torch.cuda.get_device_name(0)}"
        return {"device": dev, "dtype": str(self.dtype).removeprefix("torch."),
                "attn_implementation": self.attn_implementation, "token_budget": self.token_budget,
                "library_versions": libs, "python": platform.python_version()}

    # ------------------------------------------------------------------ tokenisation
    def _enc(self, s: str) -> list[int]:
        return self.tokenizer(s, add_special_tokens=False).input_ids

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """Harness convention: trailing spaces move from context to continuation; encode the whole string and
        split it at the context's token length."""
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            continuation = context[-n_spaces:] + continuation
            context = context[:-n_spaces]
        whole = self._enc(context + continuation)
        n_ctx = len(self._enc(context))
        if n_ctx == 0:  # empty context: condition on the BOS/EOS token like the harness
            bos = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.tokenizer.eos_token_id
            return [bos], whole
        return whole[:n_ctx], whole[n_ctx:]

    # ------------------------------------------------------------------ scoring
    def score(self, requests: Sequence[tuple[str, Sequence[str]] | tuple[str, Sequence[str], str]],
              progress: Callable[[int], None] | None = None) -> list[list[OptionScore]]:
        """For each (context, [continuations][, shared_prefix]) return one OptionScore per continuation.

        Requests with the same shared prefix (a header and few-shot examples) form a group: the prefix is
        encoded once and its key/value cache reused for every question of the group; questions whose options
        are single tokens are then scored in length-sorted batches, one forward pass over the question's own
        tokens each. The tokens scored are exactly those of encoding the whole context (the prefix is cut at
        the longest token prefix every member shares), so results equal a plain forward pass.
        """
        out: list[list[OptionScore] | None] = [None] * len(requests)
        groups: dict[str, list[int]] = {}
        encoded: list[list[tuple[list[int], list[int]]]] = []
        for i, req in enumerate(requests):
            ctx, conts = req[0], req[1]
            prefix = req[2] if len(req) > 2 else ""
            if prefix and not ctx.startswith(prefix):
                raise ValueError("shared prefix must be a prefix of the context")
            encoded.append([self.encode_pair(ctx, c) for c in conts])
            groups.setdefault(prefix, []).append(i)
        with self._torch.inference_mode():
            for prefix, members in groups.items():
                self._score_group(prefix, members, encoded, out, progress)
        return out  # type: ignore[return-value]

    def _score_group(self, prefix: str, members: list[int], encoded, out, progress) -> None:
        torch = self._torch
        # the shared token prefix: as long as the prefix's own tokens agree with every member's context tokens
        p_ids = self._enc(prefix) if prefix else []
        k = len(p_ids)
        for i in members:
            for ctx, _ in encoded[i]:
                k = min(k, _common_prefix_len(p_ids, ctx), len(ctx) - 1)
        k = max(k, 0)
        cache = None
        if k > 0:
            key = tuple(p_ids[:k])
            if self._prefix_memo is not None and self._prefix_memo[0] == key:
                cache = self._prefix_memo[1]  # the same few-shot prefix as the last group (a subject split
                # across the runner's chunks): reuse its cache, which is always cropped back to the prefix
            else:
                # the prefix's logits are never read: project only one position onto the vocabulary
                cache = _cache_of(self.model(input_ids=torch.tensor([p_ids[:k]], device=self.device),
                                             use_cache=True, logits_to_keep=1))
                self._prefix_memo = (key, cache)

        single: list[int] = []
        multi: list[int] = []
        for i in members:
            pairs = encoded[i]
            same_ctx = all(p[0] == pairs[0][0] for p in pairs)
            (single if same_ctx and all(len(p[1]) == 1 for p in pairs) else multi).append(i)

        single.sort(key=lambda i: len(encoded[i][0][0]) - k)
        max_batch = self.max_batch if (cache is None or self.batch_shared_prefix) else 1
        start = 0
        while start < len(single):
            end = start + 1
            while (end < len(single) and end - start < max_batch
                   and (len(encoded[single[end]][0][0]) - k) * (end - start + 1) <= self.token_budget):
                end += 1
            batch = single[start:end]
            suffixes = [encoded[i][0][0][k:] for i in batch]
            lens = [len(x) for x in suffixes]
            ids = torch.full((len(batch), max(lens)), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), k + max(lens)), dtype=torch.long)
            mask[:, :k] = 1
            for r, suf in enumerate(suffixes):
                ids[r, : lens[r]] = torch.tensor(suf)
                mask[r, k: k + lens[r]] = 1
            kwargs = {}
            if cache is not None and len(batch) == 1:
                kwargs["cache"] = cache  # reused in place, cropped back to the prefix below
            elif cache is not None:
                kwargs["cache"] = _expand(cache, len(batch))
            # only each row's last position is scored: the vocabulary projection (a fifth of a small model's
            # FLOPs, and a B × L × V tensor) runs on those B positions alone
            keep = (torch.tensor(lens) - 1).view(-1, 1).to(self.device)
            try:
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                    logits_to_keep=keep, **kwargs).logits
            finally:
                if cache is not None and len(batch) == 1:
                    _crop_to(cache, k)
            last = logits[:, -1].float()  # (B, 1, V): one kept position per row
            logp = torch.log_softmax(last, dim=-1).cpu()
            for r, i in enumerate(batch):
                argmax = int(logp[r].argmax())
                out[i] = [OptionScore(float(logp[r, c[0]]), [float(logp[r, c[0]])], c[0] == argmax)
                          for _, c in encoded[i]]
            if progress:
                progress(len(batch))
            start = end

        for i in multi:
            out[i] = self._score_shared_prefix(encoded[i], cache, k)
            if progress:
                progress(1)

    def _score_shared_prefix(self, pairs: list[tuple[list[int], list[int]]], prefix_cache=None,
                             k: int = 0) -> list[OptionScore]:
        """Options sharing a context: encode the context once (after the group's cached prefix of k tokens),
        then all options together from its cache."""
        torch = self._torch
        results: list[OptionScore | None] = [None] * len(pairs)
        groups: dict[tuple[int, ...], list[int]] = {}
        for j, (ctx, _) in enumerate(pairs):
            groups.setdefault(tuple(ctx), []).append(j)
        for ctx_key, members in groups.items():
            kw = {"cache": _expand(prefix_cache, 1)} if prefix_cache is not None and k > 0 else {}
            start = k if kw else 0
            ctx_ids = torch.tensor([list(ctx_key[start:])], device=self.device)
            res = self.model(input_ids=ctx_ids, use_cache=True, logits_to_keep=1, **kw)
            first = torch.log_softmax(res.logits[0, -1].float(), dim=-1)
            conts = [pairs[j][1] for j in members]
            longest = max(len(c) for c in conts)
            rest: Any = None  # the continuations' later positions, when any continuation has more than one token
            if longest > 1:
                cache = _cache_of(res)
                cache.batch_repeat_interleave(len(members))
                ids = torch.full((len(members), longest - 1), self.pad_id, dtype=torch.long)
                for r, c in enumerate(conts):
                    if len(c) > 1:
                        ids[r, : len(c) - 1] = torch.tensor(c[:-1])
                # right padding needs no mask in a causal model: padded positions come after the real ones
                rest = torch.log_softmax(
                    self.model(input_ids=ids.to(self.device), cache=cache).logits.float(), dim=-1)
            for r, (j, c) in enumerate(zip(members, conts)):
                lps = [float(first[c[0]])]
                greedy = int(first.argmax()) == c[0]
                for q in range(1, len(c)):
                    row = rest[r, q - 1]
                    lps.append(float(row[c[q]]))
                    greedy = greedy and int(row.argmax()) == c[q]
                results[j] = OptionScore(sum(lps), lps, greedy)
        return results  # type: ignore[return-value]

    # ------------------------------------------------------------------ generation
    def generate(self, prompt: str, max_new_tokens: int = 128, stop: Sequence[str] = (), do_sample: bool = False,
                 temperature: float = 1.0, top_p: float = 1.0, seed: int = 0) -> str:
        torch = self._torch
        ids = torch.tensor([self._enc(prompt)], device=self.device)
        kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": do_sample,
                                  "pad_token_id": self.pad_id, "attention_mask": torch.ones_like(ids)}
        if do_sample:
            kwargs.update(temperature=temperature, top_p=top_p)
            torch.manual_seed(seed)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if stop:
            kwargs.update(stop_strings=list(stop), tokenizer=self.tokenizer)
        with torch.inference_mode():
            out = self.model.generate(ids, **kwargs)
        text = self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        return truncate_at_stop(text, stop)


def _common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _cache_of(output):
    """The key/value cache of a forward pass (transformers 5.x names it ``cache``; earlier ``past_key_values``)."""
    c = getattr(output, "cache", None)
    return c if c is not None else output.past_key_values


def _crop_to(cache, k: int) -> None:
    """Drop everything after the first k positions (the shared prefix) from a cache used in place."""
    extra = cache.get_seq_length() - k
    if extra > 0:
        cache.crop(-extra)  # transformers 5 takes the number of tokens to remove, as a negative count


def _expand(cache, n: int):
    """A private copy of a prefix cache, repeated n times along the batch (the original stays reusable)."""
    import copy

    c = copy.deepcopy(cache)
    if n > 1:
        c.batch_repeat_interleave(n)
    return c
