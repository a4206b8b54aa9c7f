"""Temporary files that killed writers leave behind are swept; finished files are never touched."""

from __future__ import annotations

import pandas as pd

from benchtrust.lake import TEMP_NAME, sweep_temp_files, write_parquet


def test_sweep_removes_every_writers_temporary_names_and_keeps_finished_files(tmp_path):
    lake, reports, cache = tmp_path / "lake", tmp_path / "reports", tmp_path / "cache"
    done = write_parquet(pd.DataFrame({"a": [1]}), lake / "items" / "benchmark=x" / "v1.parquet")
    orphans = [
        lake / "items" / "benchmark=x" / ".v2.parquet.4242.deadbeef.tmp",  # lake writer (benchtrust.lake)
        cache / "m" / "chunk-0001-abcd.parquet.tmp",  # inference cache chunk
        reports / "benchmarks" / "x" / "index.html.tmp4242",  # report index
    ]
    for p in orphans:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("half written")
    folder = reports / "models" / "m" / "abc.tmp4242"  # a report version folder written by a killed process
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<html")
    kept = reports / "models" / "m" / "abc"
    kept.mkdir(parents=True)
    (kept / "report.json").write_text("{}")

    removed = sweep_temp_files(lake, reports, cache, tmp_path / "absent")

    assert sorted(map(str, removed)) == sorted(map(str, [*orphans, folder]))
    assert not any(TEMP_NAME.search(p.name) for p in tmp_path.rglob("*"))
    assert done.exists() and (kept / "report.json").exists()
    assert sweep_temp_files(lake, reports, cache) == []
