"""Hugging Face datasets: a hub name (needs the network) or a local folder.

A folder written by ``Dataset.save_to_disk`` is read with ``load_from_disk``; any other folder or name goes
through ``load_dataset`` (data files, a loading script's repo, or a hub id at a pinned ``revision``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchtrust.hashing import hash_obj, hash_tree
from benchtrust.items import FieldMapping, RawRecord, SourceError


@dataclass
class HFDatasetSource:
    name: str
    mapping: FieldMapping
    split: str = "test"
    config: str | None = None
    revision: str | None = None
    base_dir: str | None = None
    id_style: str = "subject_index"

    def _local(self) -> Path | None:
        p = Path(self.name)
        if not p.is_absolute() and self.base_dir:
            p = Path(self.base_dir) / p
        return p if p.exists() else None

    def _load(self) -> Any:
        import datasets

        local = self._local()
        try:
            if local is not None and ((local / "state.json").exists() or (local / "dataset_dict.json").exists()):
                ds = datasets.load_from_disk(str(local))
            else:
                ds = datasets.load_dataset(str(local or self.name), self.config, revision=self.revision)
        except Exception as e:  # datasets raises many types; name the input and keep the message
            raise SourceError(str(local or self.name), "hf_load_failed", f"{type(e).__name__}: {e}") from None
        if isinstance(ds, datasets.DatasetDict):
            if self.split not in ds:
                raise SourceError(str(local or self.name), "missing_split", f"split {self.split!r} not in {list(ds)}")
            ds = ds[self.split]
        return ds

    def read(self) -> Iterator[RawRecord]:
        ds = self._load()
        where = f"{self._local() or self.name}[{self.split}]"
        if self.mapping.input not in ds.column_names:
            raise SourceError(
                where, "schema_mismatch", f"no column {self.mapping.input!r}; columns are {ds.column_names}"
            )
        for i, row in enumerate(ds, start=1):
            yield RawRecord(where, i, dict(row))

    def fingerprint(self) -> str:
        local = self._local()
        if local is not None:
            return hash_tree(local)
        return hash_obj({"name": self.name, "config": self.config, "split": self.split, "revision": self.revision})

    def describe(self) -> dict[str, Any]:
        return {"type": "hf", "name": self.name, "split": self.split, "config": self.config, "revision": self.revision}
