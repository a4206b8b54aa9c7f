"""The lake keeps every name apart and accepts only the pipeline's files (issue 15, items 5 and 6), through a real
`dbt build`:

* importing predictions for models whose names collided before ('org/model' vs 'org:model', 'a b' vs 'a_b',
  names differing only in case) keeps every model's rows in marts.predictions;
* a Parquet file dropped into the lake by hand (the 'gpt-forged' attack), or a listed file overwritten by
  another route, does not reach the marts and is reported in staging.stg_lake__files.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd

from benchtrust import lake
from benchtrust.importers import import_predictions
from benchtrust.importers.load import write_import
from benchtrust.settings import get_settings
from data_contracts import split_predictions, validate
from tests.integration.test_dbt_build import dbt_build

COLLIDING = ["org/model", "org:model", "a b", "a_b", "Model-X", "model-x", "MODEL-X"]
N_ITEMS = 20
# the marts the attack reached (tests only where all their parents are built)
SELECT = ("--select", "+predictions", "+reliability_report", "stg_lake__files", "--indirect-selection", "cautious")


def _import(tmp_path, models: list[str], bench: str = "quiz") -> list:
    rows = []
    for k, m in enumerate(models):
        for j in range(N_ITEMS):
            rows.append(
                {
                    "model": m,
                    "item_id": f"q{j:02d}",
                    "question": f"Question {j}?",
                    "prediction": "A" if (j + k) % 3 else "B",
                    "gold": "A",
                }
            )
    src = tmp_path / f"{bench}.csv"
    pd.DataFrame(rows).to_csv(src, index=False)
    res = import_predictions("csv", src, benchmark=bench)
    good, quarantined = split_predictions(res.canonical_predictions(), res.items, source=str(src))
    assert len(quarantined) == 0
    result = validate(good, "predictions")
    assert result.success, result.summary()
    return write_import(res, good.assign(contract_version=result.version), get_settings().ensure().lake)


def _con():
    return duckdb.connect(str(get_settings().warehouse), read_only=True)


def test_colliding_names_and_forged_files(bt_home, tmp_path):
    files = _import(tmp_path, COLLIDING)
    pred_files = [f for f in files if "/predictions/" in str(f)]
    assert len(pred_files) == len(COLLIDING) == len({f.parent for f in pred_files})  # one folder per model
    assert len({str(f.parent).lower() for f in pred_files}) == len(COLLIDING)  # even case-insensitively
    s = get_settings()
    for f in files:
        assert lake.manifest_path(f).exists()  # every file the importer wrote is listed

    # by hand: a forged model's file in the predictions folder (what `COPY ... TO` did), and an overwrite of a
    # listed file with other content of another size
    template = pd.read_parquet(pred_files[0])
    forged = template.assign(model="gpt-forged", is_correct=True, cell_key=template["cell_key"] + "-forged")
    forged_dir = s.lake / "predictions" / "benchmark=quiz" / "model=gpt-forged"
    forged_dir.mkdir(parents=True)
    forged.to_parquet(forged_dir / "v1__dv.parquet", index=False)
    overwritten = pred_files[1]
    victim_model = pd.read_parquet(overwritten)["model"].iloc[0]
    pd.concat([pd.read_parquet(overwritten).assign(is_correct=True)] * 3).to_parquet(overwritten, index=False)

    lake.ensure_layout(s.lake)
    proc = dbt_build(*SELECT)
    assert "stg_lake__files" in proc.stdout

    con = _con()
    try:
        got = dict(
            con.execute(
                "select model, count(*) from marts.predictions where benchmark = 'quiz' group by model"
            ).fetchall()
        )
        expected = {m: N_ITEMS for m in COLLIDING if m != victim_model}
        assert got == expected  # every colliding name kept its rows; the forged and the overwritten file did not
        assert "gpt-forged" not in {r[0] for r in con.execute("select model from marts.reliability_report").fetchall()}
        problems = dict(con.execute("select file, problem from staging.stg_lake__files where not is_listed").fetchall())
    finally:
        con.close()
    assert problems == {
        str(forged_dir / "v1__dv.parquet"): "not written by the pipeline (no manifest entry): ignored",
        str(overwritten): "size differs from its manifest entry (changed by another route): ignored",
    }
    assert "WARN" in proc.stdout  # the build says so too

    # the pipeline writing the file again (same path) makes it count once more
    _import(tmp_path, [victim_model], bench="quiz")
    lake.ensure_layout(s.lake)
    dbt_build(*SELECT)
    con = _con()
    try:
        n = con.execute("select count(*) from marts.predictions where model = ?", [victim_model]).fetchone()[0]
    finally:
        con.close()
    assert n == N_ITEMS


def test_parallel_writers_list_every_file(bt_home):
    """Several processes writing lake files at once each list their own files; no shared manifest to corrupt."""
    import concurrent.futures as cf

    s = get_settings().ensure()
    with cf.ProcessPoolExecutor(max_workers=4) as ex:
        paths = list(ex.map(_write_one, [(str(s.lake), i) for i in range(24)]))
    for p in map(Path, paths):
        entry = json.loads(lake.manifest_path(p).read_text())
        assert entry["bytes"] == p.stat().st_size and entry["file"] == p.name
    assert not list(s.lake.rglob("*.tmp"))


def _write_one(args: tuple[str, int]) -> str:
    root, i = args
    df = pd.DataFrame({"x": list(range(i * 10))})
    return str(lake.write_parquet(df, lake.predictions_path(Path(root), "b", f"m{i % 3}", f"v{i}", "dv")))


def test_old_lake_is_adopted_once(tmp_path):
    """A lake written before the manifest existed (no sidecar at all) is listed once; later files are not."""
    root = tmp_path / "lake"
    old = root / "items" / "benchmark=x" / "dv.parquet"
    old.parent.mkdir(parents=True)
    pd.DataFrame({"a": [1]}).to_parquet(old)
    assert lake.adopt_existing(root) == 1 and lake.manifest_path(old).exists()
    later = root / "items" / "benchmark=x" / "dropped.parquet"
    pd.DataFrame({"a": [2]}).to_parquet(later)
    assert lake.adopt_existing(root) == 0 and not lake.manifest_path(later).exists()
    # a lake that already has a listing is a manifest-era lake: nothing in it is adopted
    root2 = tmp_path / "lake2"
    lake.write_parquet(pd.DataFrame({"a": [1]}), root2 / "items" / "benchmark=y" / "dv.parquet")
    dropped = root2 / "items" / "benchmark=y" / "dropped.parquet"
    pd.DataFrame({"a": [2]}).to_parquet(dropped)
    assert lake.adopt_existing(root2) == 0 and not lake.manifest_path(dropped).exists()


def test_old_rule_folders_move_to_their_injective_names(tmp_path):
    """A lake and reports written under the old folder rule ('openai/gpt-4o' → 'openai__gpt-4o') move once to the
    new names, read from the data; plain names stay; a second run does nothing."""
    from benchtrust.names_migration import migrate_lake, migrate_reports

    root = tmp_path / "lake"
    old = root / "predictions" / "benchmark=quiz" / "model=openai__gpt-4o" / "v1__dv.parquet"
    old.parent.mkdir(parents=True)
    pd.DataFrame({"benchmark": ["quiz"], "model": ["openai/gpt-4o"], "x": [1]}).to_parquet(old)
    lake.register(old)
    plain = root / "predictions" / "benchmark=quiz" / "model=smol" / "v1__dv.parquet"
    plain.parent.mkdir(parents=True)
    pd.DataFrame({"benchmark": ["quiz"], "model": ["smol"], "x": [1]}).to_parquet(plain)
    items = root / "items" / "benchmark=My__Bench" / "dv.parquet"
    items.parent.mkdir(parents=True)
    pd.DataFrame({"benchmark": ["My Bench"], "item_id": ["a"]}).to_parquet(items)
    (items.parent / "LATEST.json").write_text('{"dataset_version": "dv"}')
    moves = migrate_lake(root)
    new = lake.predictions_path(root, "quiz", "openai/gpt-4o", "v1", "dv")
    assert [(a, b) for a, b in moves] == [(old, new), (items, lake.items_path(root, "My Bench", "dv"))]
    assert new.exists() and lake.manifest_path(new).exists() and not old.exists() and plain.exists()
    assert lake.latest_pointer(root, "My Bench").exists()
    assert migrate_lake(root) == []

    reports = tmp_path / "reports"
    rdir = reports / "openai__gpt-4o" / "quiz" / "r1"
    rdir.mkdir(parents=True)
    (rdir / "report.json").write_text(json.dumps({"headline": {"model": "openai/gpt-4o", "benchmark": "quiz"}}))
    idx = reports / "_benchmarks" / "My__Bench" / "i1"
    idx.mkdir(parents=True)
    (idx / "index.json").write_text(json.dumps({"benchmark": "My Bench"}))
    from benchtrust.report.render import report_folder

    moved = migrate_reports(reports)
    assert (report_folder(reports, "openai/gpt-4o", "quiz", "r1") / "report.json").exists()
    assert (reports / "_benchmarks" / lake.path_part("My Bench") / "i1" / "index.json").exists()
    assert len(moved) == 2 and migrate_reports(reports) == []
