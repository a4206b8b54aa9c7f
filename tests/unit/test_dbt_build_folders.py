"""dagster-dbt leaves one target folder per build; the dbt asset prunes the old ones after each build."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipelines.dbt_project import prune_build_folders


def _folder(target: Path, name: str, age_s: float) -> Path:
    p = target / name
    (p / "compiled").mkdir(parents=True)
    (p / "run_results.json").write_text("{}")
    t = time.time() - age_s
    os.utime(p, (t, t))
    return p


def test_keeps_the_newest_and_every_recent_build_folder(tmp_path):
    old = [_folder(tmp_path, f"benchtrust_dbt_models-{i:07d}-aaaaaaa", 10 * 3600 + i) for i in range(5)]
    recent = [_folder(tmp_path, f"benchtrust_dbt_models-r{i:06d}-bbbbbbb", 60 + i) for i in range(3)]
    other = tmp_path / "manifest.json"  # the parsed manifest and anything not a build folder stay
    other.write_text("{}")
    unrelated = _folder(tmp_path, "compiled_by_hand", 10 * 3600)

    removed = prune_build_folders(tmp_path, keep=4, min_age_s=6 * 3600)

    # newest four: the three recent ones and the youngest old one; the other four old ones go
    assert sorted(removed) == sorted(old[1:])
    assert all(p.is_dir() for p in [*recent, old[0], unrelated])
    assert not any(p.exists() for p in old[1:])
    assert other.exists()


def test_a_recent_build_beyond_the_count_is_kept(tmp_path):
    """A build still writing (another data folder's, sharing the project's target) is young: never removed."""
    young = [_folder(tmp_path, f"benchtrust_dbt_models-{i:07d}-ccccccc", 30 + i) for i in range(6)]
    assert prune_build_folders(tmp_path, keep=2, min_age_s=3600) == []
    assert all(p.is_dir() for p in young)


def test_missing_target_folder_is_nothing_to_prune(tmp_path):
    assert prune_build_folders(tmp_path / "absent") == []
