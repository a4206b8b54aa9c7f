"""The transformers engine on the real default model (SmolLM2-135M-Instruct, GGUF from its wheel)."""

from __future__ import annotations

import pytest
import torch

from benchtrust.inference.models import resolve_model
from benchtrust.inference.transformers_engine import TransformersEngine, pick_device, pick_dtype
from benchtrust.registry import Registry


@pytest.fixture(scope="module")
def engine():
    reg = Registry.load()
    return TransformersEngine(resolve_model("smollm2-135m-instruct", reg.models["smollm2-135m-instruct"]))


def naive_loglikelihood(engine: TransformersEngine, context: str, continuation: str) -> float:
    """Reference: one full forward pass over context+continuation, no cache, no batching."""
    ctx, cont = engine.encode_pair(context, continuation)
    ids = torch.tensor([ctx + cont])
    with torch.inference_mode():
        logp = torch.log_softmax(engine.model(ids).logits[0].float(), dim=-1)
    return float(sum(logp[len(ctx) - 1 + k, t] for k, t in enumerate(cont)))


def test_paris_beats_london(engine):
    [[paris, london]] = engine.score([("The capital of France is", [" Paris", " London"])])
    assert paris.logprob > london.logprob
    assert paris.is_greedy and not london.is_greedy
    assert paris.logprob == pytest.approx(naive_loglikelihood(engine, "The capital of France is", " Paris"), abs=1e-4)


def test_batched_and_cached_scoring_match_a_plain_forward_pass(engine):
    requests = [
        ("Question: What is 2 + 2?\nAnswer:", [" A", " B", " C", " D"]),  # single-token options, batched
        ("Q: Which planet is largest?\nA:", [" Jupiter, the gas giant", " Mars", " the planet Venus"]),  # multi-token
        ("Water boils at", [" 100 degrees Celsius", " 50 degrees Celsius"]),
    ]
    scores = engine.score(requests)
    for (ctx, conts), opts in zip(requests, scores):
        for cont, o in zip(conts, opts):
            assert o.logprob == pytest.approx(naive_loglikelihood(engine, ctx, cont), abs=1e-4)
            assert len(o.token_logprobs) == len(engine.encode_pair(ctx, cont)[1])
            assert o.logprob == pytest.approx(sum(o.token_logprobs))


def test_greedy_generation_is_deterministic_and_stops(engine):
    a = engine.generate("def add(a, b):\n", max_new_tokens=24, stop=["\ndef "])
    b = engine.generate("def add(a, b):\n", max_new_tokens=24, stop=["\ndef "])
    assert a == b and a.strip()
    assert "\ndef " not in a


def test_device_and_dtype_selection(engine):
    dev = pick_device()
    assert dev == ("cuda" if torch.cuda.is_available() else engine.device)
    assert pick_dtype("cpu") == torch.float32
    assert pick_dtype("cpu", "bfloat16") == torch.bfloat16
    prov = engine.provenance()
    assert prov["dtype"] == "float32" and prov["device"] == "cpu" and prov["library_versions"]["torch"]


def test_shared_prefix_groups_match_a_plain_forward_pass(engine):
    """Few-shot contexts: the prefix is encoded once per group and its cache reused for every question (single-
    and multi-token options); the scores equal scoring each full context from scratch."""
    prefix = (
        "The following are multiple choice questions (with answers) about geography.\n\n"
        "Which river is longest?\nA. Nile\nB. Thames\nAnswer: A\n\n"
        "Which ocean is largest?\nA. Arctic\nB. Pacific\nAnswer: B\n\n"
    )
    qs = [
        "Which is a continent?\nA. Asia\nB. Paris\nAnswer:",
        "Which desert is largest among these?\nA. Gobi\nB. Sahara\nAnswer:",
        "What is the capital of Japan?\nA. Tokyo\nB. Kyoto\nAnswer:",
    ]
    requests = [(prefix + q, [" A", " B"], prefix) for q in qs]
    requests.append((prefix + qs[0], [" Asia is right", " Paris"], prefix))  # multi-token options, same prefix
    scores = engine.score(requests)
    for (ctx, conts, _), opts in zip(requests, scores):
        for cont, o in zip(conts, opts):
            assert o.logprob == pytest.approx(naive_loglikelihood(engine, ctx, cont), abs=1e-4)

    # a second call with the same prefix (a subject split across the runner's chunks) reuses the cached prefix,
    # which must come back unchanged: cropped to the prefix after in-place use, copied before batched use
    memo = engine._prefix_memo
    assert memo is not None and len(memo[0]) > 0
    engine.batch_shared_prefix = False  # one question at a time against the single cache, cropped after each
    try:
        again = engine.score(requests[::-1])
    finally:
        engine.batch_shared_prefix = True
    assert engine._prefix_memo[1] is memo[1]
    assert memo[1].get_seq_length() == len(memo[0])
    for a, b in zip(scores[::-1], again):
        assert [o.logprob for o in a] == pytest.approx([o.logprob for o in b], abs=1e-5)


def test_gguf_conversion_cache_is_bit_identical_to_loading_the_gguf(tmp_path, monkeypatch):
    """benchtrust.inference.gguf_cache: the first load converts and saves, the second loads the saved conversion;
    both give the same logits and tokens as transformers' own GGUF load."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from benchtrust.inference import gguf_cache

    spec = resolve_model("smollm2-135m-instruct", Registry.load().models["smollm2-135m-instruct"])
    monkeypatch.setattr(gguf_cache, "converted_path", lambda model: tmp_path / "conv")
    ref_tok = AutoTokenizer.from_pretrained(spec.load_path, gguf_file=spec.gguf_file)
    ref = AutoModelForCausalLM.from_pretrained(spec.load_path, gguf_file=spec.gguf_file, dtype=torch.float32)
    first = gguf_cache.load_gguf(spec, torch.float32, {})
    assert (tmp_path / "conv" / "config.json").exists() and not list(tmp_path.glob(".conv.tmp*"))
    second = gguf_cache.load_gguf(spec, torch.float32, {})
    text = "Question: Which gas do plants take in? ünïcode ✓\nA. oxygen\nB. carbon dioxide\nAnswer:"
    ids = ref_tok(text, return_tensors="pt").input_ids
    with torch.inference_mode():
        want = ref(ids).logits
        for tok, model in (first, second):
            assert tok(text).input_ids == ref_tok(text).input_ids
            assert tok.pad_token_id == ref_tok.pad_token_id and tok.eos_token_id == ref_tok.eos_token_id
            assert torch.equal(model(ids).logits, want)
