"""Bounded reading of untrusted input files (issue 15, item 7): every border (benchmark items, imported predictions,
reference corpora) reads through these checks, so a hostile or broken file costs bounded memory and time and is
rejected (or its record quarantined) with the file, the row, the rule and the value.

Stated limits (:class:`ReadLimits`; the row rules' own limits are :class:`benchtrust.items.RowLimits`):

=====================  ================  ==================================================================
limit                  default           rule when exceeded
=====================  ================  ==================================================================
file on disk           512 MiB (corpora: ``file_too_large`` (whole file; checked with ``stat`` before a byte is
                       16 GiB)           read, so a 2 GB sparse file costs nothing)
decompressed gzip      512 MiB           ``decompressed_too_large`` (whole file; streamed, stops at the limit:
                                         a gzip bomb never expands)
one record             8 MiB             ``record_too_large`` (a JSONL line: quarantined unparsed; a CSV field:
                                         the whole file, since the CSV parser cannot resume)
fields per record      1 000             ``too_many_fields`` (JSONL record, quarantined) / ``too_many_columns``
                                         (CSV header, Parquet schema: whole file)
JSON nesting depth     32                ``nesting_too_deep`` (quarantined; parsing never recurses deeper than
                                         the interpreter allows)
duplicate JSON keys    none allowed      ``duplicate_key`` (quarantined: which value was meant is unknown)
=====================  ================  ==================================================================

File kinds: only regular files are read. A directory is ``not_a_file``; a FIFO, socket or device
``not_a_regular_file`` (opening a FIFO would block for ever); a symlink loop ``symlink_loop``; a missing file
``file_not_found``.
"""

from __future__ import annotations

import json
import os
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GIB = 1 << 30
MIB = 1 << 20


@dataclass(frozen=True)
class ReadLimits:
    max_file_bytes: int = 512 * MIB
    max_decompressed_bytes: int = 512 * MIB
    max_record_bytes: int = 8 * MIB
    max_fields: int = 1_000
    max_nesting: int = 32


LIMITS = ReadLimits()
CORPUS_LIMITS = ReadLimits(max_file_bytes=16 * GIB, max_decompressed_bytes=64 * GIB)


class LimitError(ValueError):
    """A whole file breaks a reading rule (``rule``, ``detail``); callers turn it into their own error type."""

    def __init__(self, rule: str, detail: str):
        super().__init__(f"{rule}: {detail}")
        self.rule, self.detail = rule, detail


class RecordError(ValueError):
    """One record breaks a reading rule; it is quarantined (``rule``, ``detail``)."""

    def __init__(self, rule: str, detail: str):
        super().__init__(f"{rule}: {detail}")
        self.rule, self.detail = rule, detail


def check_file(p: Path, limits: ReadLimits = LIMITS) -> os.stat_result:
    """The file's ``stat`` after the file-kind and size rules (:class:`LimitError` otherwise)."""
    try:
        st = os.stat(p)  # follows symlinks: a loop raises ELOOP
    except FileNotFoundError:
        if os.path.islink(p):
            raise LimitError("file_not_found", "a symbolic link to nothing") from None
        raise LimitError("file_not_found", "no such file") from None
    except OSError as e:
        if e.errno == 40:  # ELOOP
            raise LimitError("symlink_loop", "symbolic links point at each other in a loop") from None
        raise LimitError("unreadable", f"{e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise LimitError("not_a_file", "is a directory")
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "a character device"
            if stat.S_ISCHR(st.st_mode)
            else "a block device"
            if stat.S_ISBLK(st.st_mode)
            else "not a regular file"
        )
        raise LimitError("not_a_regular_file", f"is {kind}, not a regular file")
    if st.st_size > limits.max_file_bytes:
        raise LimitError("file_too_large", f"{st.st_size:,} bytes > the limit of {limits.max_file_bytes:,}")
    return st


def gunzip_bounded(data: bytes, limits: ReadLimits = LIMITS) -> bytes:
    """Decompress gzip ``data`` (all members), stopping at ``max_decompressed_bytes``. A first pass only counts
    (output discarded chunk by chunk), so a bomb costs time up to the limit but never its memory."""
    _gunzip(data, limits, keep=False)
    return _gunzip(data, limits, keep=True)


def _gunzip(data: bytes, limits: ReadLimits, keep: bool) -> bytes:
    out: list[bytes] = []
    total = 0
    rest = data
    while rest:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while True:
                chunk = d.decompress(rest, MIB)
                total += len(chunk)
                if total > limits.max_decompressed_bytes:
                    raise LimitError(
                        "decompressed_too_large",
                        f"decompresses to more than {limits.max_decompressed_bytes:,} bytes (a gzip bomb?)",
                    )
                if keep:
                    out.append(chunk)
                rest = d.unconsumed_tail
                if d.eof or not rest:
                    break
        except zlib.error as e:
            raise LimitError("bad_gzip", f"the content is not readable gzip: {e}") from None
        if not d.eof:
            raise LimitError("bad_gzip", "the gzip stream is truncated (ends before its end-of-stream marker)")
        rest = d.unused_data
        if rest and not rest.lstrip(b"\x00"):
            break  # zero padding after the last member
    return b"".join(out)


def read_file(p: Path, limits: ReadLimits = LIMITS) -> bytes:
    """A regular file's bytes within the limits; ``.gz`` names are decompressed (bounded)."""
    check_file(p, limits)
    with open(p, "rb") as f:
        data = f.read(limits.max_file_bytes + 1)
    if len(data) > limits.max_file_bytes:  # grew while we read
        raise LimitError("file_too_large", f"more than the limit of {limits.max_file_bytes:,} bytes")
    if p.name.endswith(".gz") and data:
        data = gunzip_bounded(data, limits)
    return data


def iter_lines_bounded(fh: Any, limits: ReadLimits = LIMITS) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) of a binary stream; a line longer than ``max_record_bytes`` yields ``None`` and is
    skipped in bounded memory."""
    lineno = 0
    while True:
        line = fh.readline(limits.max_record_bytes + 1)
        if not line:
            return
        lineno += 1
        if len(line) > limits.max_record_bytes and not line.endswith(b"\n"):
            while True:  # drain the rest of the long line without keeping it
                more = fh.readline(MIB)
                if not more or more.endswith(b"\n"):
                    break
            yield lineno, None
            continue
        yield lineno, line


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for k, v in pairs:
        if k in d:
            raise RecordError("duplicate_key", f"key {k[:80]!r} appears more than once in one object")
        d[k] = v
    return d


def _depth(obj: Any, limit: int) -> int:
    depth, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (dict, list)):
            depth = max(depth, d)
            if depth > limit:
                return depth
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return depth


def _nesting_prescan(text: str, limit: int) -> bool:
    """True when brackets outside strings nest deeper than ``limit`` (checked before parsing: the C parser
    recurses and a 100 000-deep array would exhaust the stack)."""
    depth = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def loads_record(text: str, limits: ReadLimits = LIMITS) -> Any:
    """``json.loads`` for one untrusted record: duplicate keys, nesting and field count are record rules
    (:class:`RecordError`); a syntax error stays ``json.JSONDecodeError``."""
    if text.count("[") + text.count("{") > limits.max_nesting and _nesting_prescan(text, limits.max_nesting):
        raise RecordError("nesting_too_deep", f"JSON nested deeper than {limits.max_nesting} levels")
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise RecordError("nesting_too_deep", f"JSON nested deeper than {limits.max_nesting} levels") from None
    if _depth(obj, limits.max_nesting) > limits.max_nesting:
        raise RecordError("nesting_too_deep", f"JSON nested deeper than {limits.max_nesting} levels")
    if isinstance(obj, dict) and len(obj) > limits.max_fields:
        raise RecordError("too_many_fields", f"{len(obj):,} fields > the limit of {limits.max_fields:,}")
    return obj
