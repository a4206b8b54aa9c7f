"""The read-only query surface of ``benchtrust query`` (issue 15, item 1).

DuckDB's ``read_only=True`` protects only the database file: ``COPY … TO``, ``EXPORT DATABASE``, ``ATTACH`` and
the file-reading table functions still touch the file system. Two independent layers stop that here:

1. the connection: ``enable_external_access=false`` (no file or network access at all), extension
   auto-loading/-installing off, and ``lock_configuration=true`` so that no statement can turn either back on;
2. a statement allow-list, judged on DuckDB's own parse (``duckdb.extract_statements`` for the statement type,
   ``json_serialize_sql`` for the tree), not on regexes: exactly one SELECT-type statement (SELECT, WITH,
   FROM-first, DESCRIBE, SHOW, SUMMARIZE) or an EXPLAIN of one, whose table functions are all on a short list of
   catalog/generator functions and which names no file as a table.

A refused statement gets a one-line reason (:class:`Refused`, exit code 2). Rows are capped (``max_rows``) and
the statement is interrupted from a timer after ``timeout_s`` (:class:`QueryTimeout`). While ``dbt build``
holds the warehouse's write lock the connection is retried for ``wait_s`` seconds, then
:class:`WarehouseBusy` says so in one line.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

__all__ = [
    "ALLOWED_TABLE_FUNCTIONS",
    "CONNECTION_CONFIG",
    "QueryResult",
    "QueryTimeout",
    "Refused",
    "WarehouseBusy",
    "check_statement",
    "connect_readonly",
    "run_query",
]

CONNECTION_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "lock_configuration": True,  # last: no statement can change the settings above
}

# table functions that only read the catalog or generate values; everything else (read_csv, read_parquet,
# read_json*, read_text, read_blob, glob, parquet_scan, sniff_csv, query, query_table, ...) is refused
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {
        "range",
        "generate_series",
        "unnest",
        "duckdb_columns",
        "duckdb_constraints",
        "duckdb_databases",
        "duckdb_dependencies",
        "duckdb_functions",
        "duckdb_indexes",
        "duckdb_keywords",
        "duckdb_schemas",
        "duckdb_sequences",
        "duckdb_tables",
        "duckdb_types",
        "duckdb_views",
        "pragma_table_info",
        "pragma_show",
        "pragma_storage_info",
    }
)
_SELECT_TYPES = {duckdb.StatementType.SELECT}
_EXPLAIN = duckdb.StatementType.EXPLAIN


class Refused(Exception):
    """A statement the query surface does not run (one-line reason)."""


class WarehouseBusy(Exception):
    """The warehouse's write lock is held (``dbt build`` is rebuilding it)."""


class QueryTimeout(Exception):
    """The statement ran past the time limit and was interrupted."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool  # more rows than max_rows existed; only the first max_rows are in ``rows``


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            yield n
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)


def _strip_explain(sql: str) -> str:
    """The statement an EXPLAIN [ANALYZE] wraps (token offsets from DuckDB's own tokenizer)."""
    toks = duckdb.tokenize(sql)
    words = [
        (pos, sql[pos : (toks[i + 1][0] if i + 1 < len(toks) else len(sql))].strip().lower())
        for i, (pos, _) in enumerate(toks)
    ]
    k = 0
    if k < len(words) and words[k][1] == "explain":
        k += 1
        if k < len(words) and words[k][1] == "analyze":
            k += 1
        if k < len(words):
            return sql[words[k][0] :]
    raise Refused("could not read the statement EXPLAIN wraps")


def _check_tree(sql: str) -> None:
    con = duckdb.connect(":memory:", config=CONNECTION_CONFIG)
    try:
        row = con.execute("select json_serialize_sql(?::varchar)", [sql]).fetchone()
        if row is None:  # json_serialize_sql returns one row for any input; never reached
            raise Refused("could not parse the statement")
        tree = json.loads(row[0])
    finally:
        con.close()
    if tree.get("error"):
        raise Refused(f"statement not allowed: {str(tree.get('error_message', 'unparsable'))[:200]}")
    for n in _walk(tree.get("statements", [])):
        t = n.get("type")
        if t == "TABLE_FUNCTION":
            name = str((n.get("function") or {}).get("function_name", "?")).lower()
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise Refused(
                    f"table function {name}() is not allowed: benchtrust query reads the warehouse only, never files"
                )
        elif t == "BASE_TABLE":
            name = str(n.get("table_name", ""))
            if any(c in name for c in "/\\:") or "." in name:
                raise Refused(
                    f"reading {name!r} as a table is not allowed: benchtrust query reads the "
                    "warehouse only, never files"
                )


def check_statement(sql: str) -> str:
    """The single allowed statement of ``sql``, or :class:`Refused` with a one-line reason."""
    try:
        stmts = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise Refused(f"could not parse the statement: {str(e).splitlines()[0][:200]}") from None
    if len(stmts) != 1:
        raise Refused(f"give exactly one statement (got {len(stmts)})")
    st = stmts[0]
    if st.type == _EXPLAIN:
        inner = _strip_explain(st.query)
        check_statement(inner)
        return st.query
    if st.type not in _SELECT_TYPES:
        kind = str(st.type).split(".")[-1]
        raise Refused(
            f"{kind} statements are not allowed: benchtrust query runs SELECT / WITH / DESCRIBE / SHOW / "
            "SUMMARIZE / EXPLAIN only"
        )
    _check_tree(st.query)
    return st.query


def _is_lock_error(e: BaseException) -> bool:
    s = str(e).lower()
    return "lock" in s and ("conflicting" in s or "could not set lock" in s)


def connect_readonly(warehouse: Path, wait_s: float = 10.0) -> duckdb.DuckDBPyConnection:
    """A locked-down read-only connection; retries while another process (dbt build) holds the write lock."""
    deadline = time.monotonic() + max(0.0, wait_s)
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(warehouse), read_only=True, config=dict(CONNECTION_CONFIG))
        except duckdb.Error as e:
            if not _is_lock_error(e):
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"the warehouse is being rebuilt (dbt build holds {warehouse}); retry in a moment"
                ) from None
            time.sleep(delay)
            delay = min(0.5, delay * 2)


def run_query(
    warehouse: Path, sql: str, max_rows: int = 10_000, timeout_s: float = 60.0, wait_s: float = 10.0
) -> QueryResult:
    """Check ``sql`` against the allow-list, then run it on a locked-down read-only connection."""
    stmt = check_statement(sql)
    con = connect_readonly(warehouse, wait_s)
    fired = threading.Event()

    def interrupt() -> None:
        fired.set()
        con.interrupt()

    timer = threading.Timer(timeout_s, interrupt)
    timer.daemon = True
    timer.start()
    try:
        cur = con.execute(stmt)
        if cur.description is None:
            return QueryResult([], [], False)
        cols = [d[0] for d in cur.description]
        rows = cur.fetchmany(max_rows + 1)
    except duckdb.Error:
        if fired.is_set():
            raise QueryTimeout(f"the query ran longer than the time limit of {timeout_s:g}s and was stopped") from None
        raise
    finally:
        timer.cancel()
        con.close()
    return QueryResult(cols, rows[:max_rows], len(rows) > max_rows)
