"""`benchtrust corpus add` + `corpus scan` + `corpora` (issue 14 item 1, issue 13 item 6): a JSONL file registered in
the data folder (config/ untouched) and scanned through Dagster backfills puts rows into
marts.contamination_evidence, and the command prints the evidence summary. Real MMLU items, real Dagster runs with
hosted daemons, a real dbt build of the contamination marts."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
from typer.testing import CliRunner

from pipelines.cli import app
from tests.contamination.conftest import put_items


def test_corpus_add_then_scan_fills_contamination_evidence(bt_home, tmp_path, mmlu):
    from benchtrust.settings import PROJECT_ROOT, get_settings

    settings = get_settings().ensure()
    items = mmlu.items.head(40)
    put_items(settings.lake, "mmlu", items)
    planted = list(items["item_id"].head(5))
    docs = [
        {"url": f"u{i}", "text": f"Quiz night! {r.input} " + " / ".join(r.choices)}
        for i, r in enumerate(items.head(5).itertuples())
    ]
    docs.append({"url": "other", "text": "nothing to see here, only a few unrelated words about the weather"})
    corpus = tmp_path / "web.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    config_before = (PROJECT_ROOT / "config" / "corpora.yaml").read_text()
    cli = CliRunner()

    res = cli.invoke(app, ["corpus", "add", "web", str(corpus), "--no-embed"])
    assert res.exit_code == 0, res.output
    assert "corpus 'web' registered in" in res.output and str(bt_home / "registry" / "corpora.yaml") in res.output
    assert (PROJECT_ROOT / "config" / "corpora.yaml").read_text() == config_before  # config/ is the user's

    res = cli.invoke(app, ["corpus", "scan", "web", "--benchmark", "mmlu"])
    assert res.exit_code == 0, res.output
    assert "web × mmlu: ngram_overlap n=13: " in res.output and "items flagged" in res.output

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        ev = con.execute(
            "select item_id, method, value, is_flagged from marts.contamination_evidence "
            "where corpus = 'web' and benchmark = 'mmlu' and signal = 'ngram_overlap'"
        ).df()
    finally:
        con.close()
    assert len(ev) > 0
    flagged = set(ev.loc[ev["is_flagged"].fillna(False).astype(bool) & (ev["method"] == "n=max(13,8)"), "item_id"])
    assert set(planted) <= flagged, (planted, flagged)
    n13 = ev[ev["method"] == "n=13"].set_index("item_id")["value"]
    assert (n13.reindex(planted).dropna() == 1.0).all()  # verbatim copies: every informative 13-gram found

    # the scan ran as Dagster backfills on the instance (the UI shows them), the corpus has its partition
    instance = dg.DagsterInstance.get()
    titles = sorted(b.title for b in instance.get_backfills())
    assert titles == ["corpus scan web", "warehouse (contamination marts)"], titles
    assert all(b.status.value == "COMPLETED_SUCCESS" for b in instance.get_backfills())
    assert instance.has_dynamic_partition("corpora", "web")
    instance.dispose()

    listed = cli.invoke(app, ["corpora"])
    assert listed.exit_code == 0 and listed.output.startswith("web\tfile\t") and "embed=no" in listed.output
    assert "not scanned" not in listed.output  # its corpus version in the lake


def test_corpus_commands_refuse_in_one_line(bt_home, tmp_path):
    cli = CliRunner()
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"text": "a document"}\n')
    cases = [
        (["corpus", "add", "c", str(tmp_path / "missing.jsonl")], f"error: {tmp_path / 'missing.jsonl'}: no such file"),
        (["corpus", "scan"], "error: no corpus is registered; add one with `benchtrust corpus add NAME PATH`"),
    ]
    for args, expected in cases:
        res = cli.invoke(app, args)
        assert res.exit_code == 2 and res.output.strip().startswith(expected), (args, res.output)
        assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert cli.invoke(app, ["corpus", "add", "c", str(corpus)]).exit_code == 0
    for args, expected in [
        (["corpus", "add", "c", str(corpus)], "error: corpus 'c' is already registered in "),
        (["corpus", "add", "C", str(corpus)], "differ only in case"),
        (["corpus", "add", "a/b", str(corpus)], "error: 'a/b' is not a safe partition name"),
        (["corpus", "scan", "nope"], "error: unknown corpus 'nope'; known: ['c']"),
        (["corpus", "scan", "c"], "error: no benchmark items in the lake to compare the corpus with"),
    ]:
        res = cli.invoke(app, args)
        assert res.exit_code == 2 and expected in res.output, (args, res.output)
        assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
