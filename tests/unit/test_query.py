"""`benchtrust query` cannot touch the file system (issue 15, item 1): every statement that writes, reads files,
attaches, loads extensions or changes settings is refused with a one-line reason and exit code 2, and nothing
appears on disk; allowed statements run under a row cap and a time limit."""

from __future__ import annotations

import duckdb
import pytest
from typer.testing import CliRunner

from benchtrust.query import Refused, check_statement, run_query
from pipelines.cli import app


@pytest.fixture()
def warehouse(bt_home):
    wh = bt_home / "warehouse" / "benchtrust.duckdb"
    wh.parent.mkdir(parents=True)
    con = duckdb.connect(str(wh))
    con.execute("create schema marts")
    con.execute(
        "create table marts.reliability_report as select 'm' || i as model, i / 10.0 as accuracy from range(25) t(i)"
    )
    con.close()
    return wh


def _query(*args: str):
    return CliRunner().invoke(app, ["query", *args])


REFUSED = {
    "copy_to": "COPY (select 1) TO '{d}/out.csv'",
    "copy_table": "COPY marts.reliability_report TO '{d}/out.parquet' (FORMAT parquet)",
    "copy_from": "COPY marts.reliability_report FROM '{d}/in.csv'",
    "export": "EXPORT DATABASE '{d}/dump'",
    "attach": "ATTACH '{d}/other.duckdb' AS other",
    "detach": "DETACH other",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "set": "SET enable_external_access = true",
    "reset": "RESET lock_configuration",
    "pragma": "PRAGMA enable_profiling",
    "call": "CALL pragma_version()",
    "create": "CREATE TABLE x AS SELECT 1",
    "insert": "INSERT INTO marts.reliability_report VALUES ('x', 1)",
    "update": "UPDATE marts.reliability_report SET accuracy = 1",
    "delete": "DELETE FROM marts.reliability_report",
    "drop": "DROP TABLE marts.reliability_report",
    "create_macro": "CREATE MACRO f(x) AS x",
    "checkpoint": "CHECKPOINT",
    "vacuum": "VACUUM",
    "two_statements": "SELECT 1; COPY (select 1) TO '{d}/out.csv'",
    "read_csv": "SELECT * FROM read_csv('/etc/passwd')",
    "read_csv_auto": "SELECT * FROM read_csv_auto('/etc/passwd')",
    "read_parquet": "SELECT * FROM read_parquet('{d}/*.parquet')",
    "parquet_scan": "SELECT * FROM parquet_scan('{d}/x.parquet')",
    "parquet_metadata": "SELECT * FROM parquet_metadata('{d}/x.parquet')",
    "parquet_schema": "SELECT * FROM parquet_schema('{d}/x.parquet')",
    "read_json": "SELECT * FROM read_json('/etc/hosts')",
    "read_json_auto": "SELECT * FROM read_json_auto('/etc/hosts')",
    "read_ndjson": "SELECT * FROM read_ndjson('/etc/hosts')",
    "read_json_objects": "SELECT * FROM read_json_objects('/etc/hosts')",
    "read_text": "SELECT * FROM read_text('/etc/passwd')",
    "read_blob": "SELECT * FROM read_blob('/etc/passwd')",
    "glob": "SELECT * FROM glob('/etc/*')",
    "sniff_csv": "SELECT * FROM sniff_csv('/etc/passwd')",
    "file_by_name": "SELECT * FROM '/etc/passwd'",
    "csv_by_name": "SELECT * FROM 'data.csv'",
    "query_fn": "SELECT * FROM query('select * from read_text(''/etc/passwd'')')",
    "query_table": "SELECT * FROM query_table('marts.reliability_report')",
    "nested_reader": "SELECT (SELECT count(*) FROM read_text('/etc/passwd')) AS n",
    "cte_reader": "WITH x AS (SELECT * FROM read_blob('/etc/passwd')) SELECT * FROM x",
    "explain_copy": "EXPLAIN COPY (select 1) TO '{d}/out.csv'",
    "explain_analyze_reader": "EXPLAIN ANALYZE SELECT * FROM read_text('/etc/passwd')",
    "lateral_reader": "SELECT * FROM marts.reliability_report, LATERAL (SELECT * FROM glob('/etc/*'))",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_one_line_and_exit_2(name, warehouse, tmp_path):
    d = tmp_path / "target"
    d.mkdir()
    before = sorted(p.name for p in warehouse.parent.iterdir())
    res = _query(REFUSED[name].format(d=d))
    assert res.exit_code == 2, res.output
    out = res.output.strip()
    assert out.startswith("refused: ") and "\n" not in out, out
    assert list(d.iterdir()) == []  # nothing written
    assert sorted(p.name for p in warehouse.parent.iterdir()) == before


def test_allowed_statements_run(warehouse):
    for sql in [
        "select count(*) as n from marts.reliability_report",
        "with x as (select * from marts.reliability_report) select count(*) as n from x",
        "from marts.reliability_report select count(*) as n",
        "describe marts.reliability_report",
        "show tables",
        "summarize marts.reliability_report",
        "explain select * from marts.reliability_report",
        "select * from duckdb_tables()",
        "select * from range(3)",
    ]:
        res = _query(sql, "--format", "json")
        assert res.exit_code == 0, (sql, res.output)
    res = _query("select count(*) as n from marts.reliability_report", "--format", "csv")
    assert res.output.splitlines() == ["n", "25"]


def test_max_rows_caps_the_output(warehouse):
    res = _query("select model from marts.reliability_report order by model", "--format", "csv", "--max-rows", "5")
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert "showing the first 5 rows (--max-rows)" in lines
    assert [x for x in lines if x.startswith("m") and x != "model"] == ["m0", "m1", "m10", "m11", "m12"]


def test_time_limit_interrupts_the_query(warehouse):
    res = _query("select count(*) from range(10000000000) a(i) where i % 7 = 3", "--timeout", "1")
    assert res.exit_code == 3, res.output
    assert res.output.strip() == "the query ran longer than the time limit of 1s and was stopped"


def test_the_connection_itself_has_no_file_access(warehouse, tmp_path):
    """Second layer: even a statement that got past the allow-list could not read or write files, nor turn the
    settings back on."""
    from benchtrust.query import connect_readonly

    con = connect_readonly(warehouse)
    try:
        for sql in [
            f"COPY (select 1) TO '{tmp_path}/x.csv'",
            "select * from read_text('/etc/passwd')",
            "SET enable_external_access = true",
            "LOAD httpfs",
            "INSTALL httpfs",
        ]:
            with pytest.raises(duckdb.Error):
                con.execute(sql)
        assert con.execute("select current_setting('enable_external_access')").fetchone()[0] is False
    finally:
        con.close()
    assert not (tmp_path / "x.csv").exists()


def test_check_statement_uses_the_parse_not_the_text():
    # keywords inside strings or comments do not trip it, and case/whitespace do not get around it
    assert check_statement("select 'COPY x TO y' as s -- ATTACH")
    for sql in ["  copy\n(select 1)\nto 'x.csv'", "/* hi */ Export Database 'd'", "sElEcT * fRoM ReAd_CsV('x')"]:
        with pytest.raises(Refused):
            check_statement(sql)


def test_query_failure_is_one_line(warehouse):
    res = _query("select * from marts.no_such_table")
    assert res.exit_code == 1 and res.output.startswith("query failed:") and res.output.count("\n") == 1


def test_run_query_api(warehouse):
    r = run_query(warehouse, "select model from marts.reliability_report order by model", max_rows=3)
    assert r.columns == ["model"] and r.rows == [("m0",), ("m1",), ("m10",)] and r.truncated


def test_every_table_function_outside_the_allow_list_is_refused():
    """Not only the file readers named above: every table function DuckDB ships (read_*, *_scan, glob, sniff_csv,
    parquet_metadata, iceberg/delta if loaded, ...) is refused unless it is on the short catalog/generator list."""
    from benchtrust.query import ALLOWED_TABLE_FUNCTIONS

    con = duckdb.connect()
    names = sorted(
        {
            r[0]
            for r in con.execute(
                "select function_name from duckdb_functions() where function_type = 'table'"
            ).fetchall()
        }
    )
    con.close()
    readers = [n for n in names if n.startswith(("read_", "parquet_", "sniff")) or n.endswith("_scan") or n == "glob"]
    assert {
        "read_csv",
        "read_csv_auto",
        "read_parquet",
        "read_json",
        "read_json_auto",
        "read_ndjson",
        "read_text",
        "read_blob",
        "glob",
        "parquet_scan",
        "sniff_csv",
    } <= set(readers)
    for n in names:
        if n in ALLOWED_TABLE_FUNCTIONS:
            continue
        with pytest.raises(Refused, match=f"table function {n.lower()}\\(\\) is not allowed"):
            check_statement(f"select * from {n}('x')")
