"""Local JSONL / CSV / Parquet files. Whole-file problems raise :class:`SourceError` naming the file and
rule; a bad record becomes a RawRecord with an error, which :func:`normalise` quarantines."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from benchtrust.hashing import hash_file
from benchtrust.items import FieldMapping, RawRecord, SourceError

GZIP_MAGIC = b"\x1f\x8b"


def _resolve(path: str | Path, base_dir: str | None) -> Path:
    p = Path(path)
    if not p.is_absolute() and base_dir:
        p = Path(base_dir) / p
    return p


def read_bytes_checked(p: Path) -> bytes:
    if not p.exists():
        raise SourceError(str(p), "file_not_found", "no such file")
    if p.is_dir():
        raise SourceError(str(p), "not_a_file", "is a directory")
    data = p.read_bytes()
    if not data.strip():
        raise SourceError(str(p), "empty_file", "file has no records")
    if data[:2] == GZIP_MAGIC and not p.name.endswith(".gz"):
        raise SourceError(str(p), "compressed_content", "file is gzip-compressed but its name does not end in .gz")
    if data[:2] == GZIP_MAGIC:
        import gzip

        data = gzip.decompress(data)
    return data


def iter_jsonl(p: Path) -> Iterator[RawRecord]:
    data = read_bytes_checked(p)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 BOM is harmless; strip it
    for lineno, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            yield RawRecord(str(p), lineno, None, ("encoding", f"not UTF-8: {e.reason} at byte {e.start}"))
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            yield RawRecord(str(p), lineno, {"_line": text[:500]}, ("invalid_json", e.msg + f" (column {e.colno})"))
            continue
        if not isinstance(obj, dict):
            yield RawRecord(str(p), lineno, {"_value": obj}, ("not_an_object", f"JSON {type(obj).__name__}, expected an object"))
            continue
        yield RawRecord(str(p), lineno, obj)


def iter_csv(p: Path, delimiter: str = ",") -> Iterator[RawRecord]:
    data = read_bytes_checked(p)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SourceError(str(p), "encoding", f"not UTF-8: {e.reason} at byte {e.start}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = reader.fieldnames
        if not header:
            raise SourceError(str(p), "no_header", "CSV has no header row")
        for i, row in enumerate(reader, start=1):
            if None in row:  # more fields than the header
                yield RawRecord(str(p), i, {k: v for k, v in row.items() if k is not None}, ("extra_fields", f"{len(row[None])} more fields than the header"))
                continue
            yield RawRecord(str(p), i, dict(row))
    except csv.Error as e:
        raise SourceError(str(p), "csv_parse", str(e), row=reader.line_num) from None


def iter_parquet(p: Path) -> Iterator[RawRecord]:
    import pyarrow.parquet as pq

    if not p.exists():
        raise SourceError(str(p), "file_not_found", "no such file")
    try:
        table = pq.read_table(p)
    except Exception as e:  # pyarrow raises several types for corrupt files
        raise SourceError(str(p), "unreadable_parquet", str(e)) from None
    for i, row in enumerate(table.to_pylist(), start=1):
        yield RawRecord(str(p), i, row)


def check_mapping_fields(records: list[RawRecord], mapping: FieldMapping, file: str) -> None:
    """Schema drift: if no parsed record carries the input field, the file's schema is wrong, not its rows."""
    parsed = [r for r in records if r.data is not None and r.error is None]
    if parsed and not any(mapping.input in r.data for r in parsed):
        cols = sorted(parsed[0].data)
        raise SourceError(file, "schema_mismatch", f"no record has the input field {mapping.input!r}; columns are {cols}")


@dataclass
class FileSource:
    path: str
    mapping: FieldMapping
    format: str | None = None
    base_dir: str | None = None
    delimiter: str = ","
    id_style: str = "subject_index"

    @property
    def resolved(self) -> Path:
        return _resolve(self.path, self.base_dir)

    def _format(self) -> str:
        if self.format:
            return self.format
        name = self.resolved.name.lower().removesuffix(".gz")
        for ext, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".csv", "csv"), (".tsv", "tsv"), (".parquet", "parquet")):
            if name.endswith(ext):
                return fmt
        raise SourceError(str(self.resolved), "unknown_format", "expected .jsonl, .csv, .tsv or .parquet (or set format:)")

    def read(self) -> Iterator[RawRecord]:
        fmt = self._format()
        p = self.resolved
        if fmt == "jsonl":
            recs = list(iter_jsonl(p))
        elif fmt in ("csv", "tsv"):
            recs = list(iter_csv(p, "\t" if fmt == "tsv" else self.delimiter))
        else:
            recs = list(iter_parquet(p))
        if not recs:
            raise SourceError(str(p), "empty_file", "file has no records")
        check_mapping_fields(recs, self.mapping, str(p))
        return iter(recs)

    def fingerprint(self) -> str:
        p = self.resolved
        return hash_file(p) if p.exists() else "missing"

    def describe(self) -> dict[str, Any]:
        return {"type": "file", "path": str(self.resolved), "format": self._format()}
