"""Local JSONL / CSV / Parquet files. Whole-file problems raise :class:`SourceError` naming the file and
rule; a bad record becomes a RawRecord with an error, which :func:`normalise` quarantines.

Reading is bounded (:mod:`benchtrust.readlimits`, issue 15 item 7): whole-file rules ``not_a_regular_file``
(FIFO, socket, device), ``symlink_loop``, ``file_too_large``, ``decompressed_too_large``, ``too_many_columns``,
``record_too_large`` (a CSV field); record rules ``record_too_large`` (a JSONL line), ``duplicate_key``,
``nesting_too_deep`` and ``too_many_fields``.

Whole-file rules: ``file_not_found``, ``not_a_file``, ``empty_file``, ``compressed_content`` (gzip bytes
under a name without ``.gz``), ``bad_gzip``, ``encoding`` (a UTF-16/UTF-32 byte-order mark, or a CSV header
that is not UTF-8), ``not_jsonl`` (a ``.jsonl`` file that is one JSON array or one multi-line object),
``no_header`` / ``csv_parse`` (CSV), ``unreadable_parquet``, ``unknown_format`` and, from
:func:`benchtrust.items.check_schema`, ``schema_mismatch``.

Record rules (quarantined): ``invalid_json``, ``not_an_object``, ``encoding`` (a line / CSV record that is
not UTF-8 — the other records are still read) and ``ragged_row`` (CSV record with more or fewer fields
than the header).

Row numbers: JSONL — the line number (1-based, blank lines counted); CSV — the record number after the
header (1 = first data record; a record may span several lines when a quoted field holds newlines; a
``csv_parse`` error names the record and the physical line; row 0 is the header);
Parquet — the row number (1-based).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchtrust import readlimits
from benchtrust.hashing import hash_file
from benchtrust.items import FieldMapping, RawRecord, SourceError, check_schema, infer_task_type
from benchtrust.readlimits import LIMITS, LimitError, ReadLimits, RecordError

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
UTF8_BOM = b"\xef\xbb\xbf"
OTHER_BOMS = {
    b"\x00\x00\xfe\xff": "UTF-32-BE",
    b"\xff\xfe\x00\x00": "UTF-32-LE",
    b"\xfe\xff": "UTF-16-BE",
    b"\xff\xfe": "UTF-16-LE",
}
_SURROGATE = re.compile(r"[\udc80-\udcff]")


def _resolve(path: str | Path, base_dir: str | None) -> Path:
    p = Path(path)
    if not p.is_absolute() and base_dir:
        p = Path(base_dir) / p
    return p


def check_file(p: Path, limits: ReadLimits = LIMITS) -> None:
    """File kind and size rules (:func:`benchtrust.readlimits.check_file`) as a :class:`SourceError`."""
    try:
        readlimits.check_file(p, limits)
    except LimitError as e:
        raise SourceError(str(p), e.rule, e.detail) from None


def read_bytes_checked(p: Path, limits: ReadLimits = LIMITS) -> bytes:
    check_file(p, limits)
    with open(p, "rb") as f:
        data = f.read(limits.max_file_bytes + 1)
    if len(data) > limits.max_file_bytes:
        raise SourceError(str(p), "file_too_large", f"more than the limit of {limits.max_file_bytes:,} bytes")
    if data[:2] == GZIP_MAGIC and not p.name.endswith(".gz"):
        raise SourceError(str(p), "compressed_content", "file is gzip-compressed but its name does not end in .gz")
    if p.name.endswith(".gz") and data:
        try:
            data = readlimits.gunzip_bounded(data, limits)
        except LimitError as e:
            detail = e.detail if e.rule != "bad_gzip" else f"name ends in .gz but {e.detail[4:]}"
            raise SourceError(str(p), e.rule, detail) from None
    if not data.strip():
        raise SourceError(str(p), "empty_file", "file has no records")
    for bom, name in OTHER_BOMS.items():
        if data.startswith(bom):
            raise SourceError(str(p), "encoding", f"file is {name} (byte-order mark {bom.hex(' ')}); save it as UTF-8")
    return data


def _not_jsonl(p: Path, data: bytes) -> None:
    """A ``.jsonl`` that is really one JSON document (an array, or one object over several lines)."""
    head = data.lstrip()[:1]
    if head not in (b"[", b"{"):
        return
    first = data.lstrip().split(b"\n", 1)[0]
    if head == b"{":
        try:
            json.loads(first)
            return  # an ordinary first line: JSON Lines
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
    try:
        doc = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return
    if isinstance(doc, list):
        raise SourceError(
            str(p),
            "not_jsonl",
            f"the file is one JSON array of {len(doc)} values, not JSON Lines (one object per line)",
        )
    if isinstance(doc, dict):
        raise SourceError(str(p), "not_jsonl", "the file is one JSON object spread over several lines, not JSON Lines")


def iter_jsonl(p: Path) -> Iterator[RawRecord]:
    data = read_bytes_checked(p)
    if data.startswith(UTF8_BOM):
        data = data[3:]  # a UTF-8 BOM is harmless; strip it
    _not_jsonl(p, data)
    lim = LIMITS
    for lineno, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        if len(line) > lim.max_record_bytes:
            yield RawRecord(
                str(p),
                lineno,
                {"_line": line[:200].decode("utf-8", "replace")},
                ("record_too_large", f"line of {len(line):,} bytes > the limit of {lim.max_record_bytes:,}"),
            )
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            yield RawRecord(
                str(p),
                lineno,
                None,
                (
                    "encoding",
                    f"line is not UTF-8: {e.reason} at byte {e.start} ({line[max(0, e.start - 10) : e.start + 10]!r})",
                ),
            )
            continue
        try:
            obj = readlimits.loads_record(text, lim)
        except json.JSONDecodeError as e:
            yield RawRecord(str(p), lineno, {"_line": text[:500]}, ("invalid_json", e.msg + f" (column {e.colno})"))
            continue
        except RecordError as e:
            yield RawRecord(str(p), lineno, {"_line": text[:500]}, (e.rule, e.detail))
            continue
        if not isinstance(obj, dict):
            yield RawRecord(
                str(p), lineno, {"_value": obj}, ("not_an_object", f"JSON {type(obj).__name__}, expected an object")
            )
            continue
        yield RawRecord(str(p), lineno, obj)


def _undecodable(values: list[Any]) -> str | None:
    for v in values:
        if isinstance(v, str) and _SURROGATE.search(v):
            raw = v.encode("utf-8", "surrogateescape")
            return f"field is not UTF-8: {raw[:40]!r}"
    return None


def iter_csv(p: Path, delimiter: str = ",") -> Iterator[RawRecord]:
    data = read_bytes_checked(p)
    if data.startswith(UTF8_BOM):
        data = data[3:]
    # undecodable bytes survive as lone surrogates, so one bad record is quarantined, not the whole file
    text = data.decode("utf-8", errors="surrogateescape")
    csv.field_size_limit(LIMITS.max_record_bytes)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    i = 0
    try:
        header = reader.fieldnames
        if not header:
            raise SourceError(str(p), "no_header", "CSV has no header row")
        if len(header) > LIMITS.max_fields:
            raise SourceError(
                str(p), "too_many_columns", f"{len(header):,} columns > the limit of {LIMITS.max_fields:,}", row=0
            )
        if _undecodable(list(header)):
            raise SourceError(str(p), "encoding", f"the header is not UTF-8: {_undecodable(list(header))}", row=0)
        for i, row in enumerate(reader, start=1):
            if None in row:  # more fields than the header
                yield RawRecord(
                    str(p),
                    i,
                    {k: v for k, v in row.items() if k is not None},
                    ("ragged_row", f"{len(header) + len(row[None])} fields, the header has {len(header)}"),
                )
                continue
            if any(v is None for v in row.values()):  # fewer fields than the header
                n = sum(v is not None for v in row.values())
                yield RawRecord(
                    str(p),
                    i,
                    {k: v for k, v in row.items() if v is not None},
                    ("ragged_row", f"{n} fields, the header has {len(header)}"),
                )
                continue
            bad = _undecodable(list(row.values()))
            if bad:
                yield RawRecord(
                    str(p),
                    i,
                    {k: v.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for k, v in row.items()},
                    ("encoding", bad),
                )
                continue
            yield RawRecord(str(p), i, dict(row))
    except csv.Error as e:  # a broken quote makes every later record ambiguous: the whole file fails
        if "field larger than field limit" in str(e):
            raise SourceError(
                str(p),
                "record_too_large",
                f"a field of record {i + 1} is longer than the limit of {LIMITS.max_record_bytes:,} characters",
                row=i + 1,
            ) from None
        raise SourceError(
            str(p), "csv_parse", f"{e} (record {i + 1}, near line {reader.line_num + 1})", row=i + 1
        ) from None


def iter_parquet(p: Path) -> Iterator[RawRecord]:
    import pyarrow.parquet as pq

    check_file(p)
    with open(p, "rb") as f:
        head = f.read(4)
    if head != PARQUET_MAGIC:
        raise SourceError(str(p), "unreadable_parquet", f"not a Parquet file (starts with {head!r}, expected b'PAR1')")
    try:
        n_cols = len(pq.read_schema(p).names)
    except Exception as e:  # pyarrow raises several types for corrupt files
        raise SourceError(str(p), "unreadable_parquet", str(e)) from None
    if n_cols > LIMITS.max_fields:
        raise SourceError(str(p), "too_many_columns", f"{n_cols:,} columns > the limit of {LIMITS.max_fields:,}")
    try:
        table = pq.read_table(p)
    except Exception as e:  # pyarrow raises several types for corrupt files
        raise SourceError(str(p), "unreadable_parquet", str(e)) from None
    for i, row in enumerate(table.to_pylist(), start=1):
        yield RawRecord(str(p), i, row)


def check_mapping_fields(records: list[RawRecord], mapping: FieldMapping, file: str) -> None:
    """Schema drift: a field the mapping needs that no record of the file carries fails the whole file."""
    check_schema(records, mapping, infer_task_type(records, mapping))


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
        for ext, fmt in (
            (".jsonl", "jsonl"),
            (".ndjson", "jsonl"),
            (".csv", "csv"),
            (".tsv", "tsv"),
            (".parquet", "parquet"),
        ):
            if name.endswith(ext):
                return fmt
        raise SourceError(
            str(self.resolved), "unknown_format", "expected .jsonl, .csv, .tsv or .parquet (or set format:)"
        )

    def read(self) -> Iterator[RawRecord]:
        fmt = self._format()
        p = self.resolved
        if fmt == "jsonl":
            recs = list(iter_jsonl(p))
        elif fmt in ("csv", "tsv"):
            recs = list(iter_csv(p, "\t" if fmt == "tsv" else self.delimiter))
        elif fmt == "parquet":
            recs = list(iter_parquet(p))
        else:
            raise SourceError(str(p), "unknown_format", f"format {fmt!r} is not jsonl, csv, tsv or parquet")
        if not recs:
            raise SourceError(str(p), "empty_file", "file has no records")
        check_mapping_fields(recs, self.mapping, str(p))
        return iter(recs)

    def fingerprint(self) -> str:
        p = self.resolved
        return hash_file(p) if p.exists() else "missing"

    def describe(self) -> dict[str, Any]:
        return {"type": "file", "path": str(self.resolved), "format": self._format()}
