"""The corpus registry sensor (issue 13, item 6): a corpus registered in config/corpora.yaml or in the data folder's
registry gets its `corpora` partition on the next tick, with no test or CLI calling sync_corpus_partitions."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest


@pytest.fixture()
def registries(bt_home, tmp_path, monkeypatch):
    from benchtrust.contamination.corpora import user_registry_path
    from benchtrust.settings import PROJECT_ROOT

    cfg = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", cfg)
    (cfg / "corpora.yaml").write_text("corpora:\n  web: {type: file, path: web.jsonl}\n")
    monkeypatch.setenv("BENCHTRUST_CONFIG", str(cfg))
    user = user_registry_path(bt_home)
    user.parent.mkdir(parents=True)
    user.write_text("corpora:\n  books: {type: text_folder, path: /tmp/books}\n")
    return cfg, user


def _tick(instance):
    from pipelines.resources import BenchtrustResource
    from sensors.corpora import corpus_registry_sensor

    return corpus_registry_sensor(
        dg.build_sensor_context(instance=instance, resources={"benchtrust": BenchtrustResource()})
    )


def test_sensor_adds_a_partition_per_registered_corpus_once(registries):
    cfg, user = registries
    instance = dg.DagsterInstance.ephemeral()
    first = _tick(instance)
    assert [(r.partitions_def_name, r.partition_keys) for r in first.dynamic_partitions_requests] == [
        ("corpora", ["web", "books"])
    ]
    assert not first.run_requests
    instance.add_dynamic_partitions("corpora", ["web", "books"])
    again = _tick(instance)
    assert not again.dynamic_partitions_requests and "2 corpora, all with a partition" in again.skip_reason.skip_message
    # a bad edit is reported with its file, key and rule, and nothing is added
    (cfg / "corpora.yaml").write_text("corpora:\n  web: {type: file}\n")
    bad = _tick(instance)
    assert not bad.dynamic_partitions_requests
    assert f"{cfg / 'corpora.yaml'}: corpora.web.path: required key missing" in bad.skip_reason.skip_message
    # the same name in both registries is refused, naming both files
    (cfg / "corpora.yaml").write_text("corpora:\n  books: {type: file, path: b.jsonl}\n")
    dup = _tick(instance)
    assert (
        f"{user}: corpora.books: corpus 'books' is already declared in {cfg / 'corpora.yaml'}"
        in dup.skip_reason.skip_message
    )


def test_sensor_is_registered_and_running_by_default():
    from pipelines.definitions import defs

    sensors = {s.name: s for s in defs.get_repository_def().sensor_defs}
    assert sensors["corpus_registry_sensor"].default_status == dg.DefaultSensorStatus.RUNNING
