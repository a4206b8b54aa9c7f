"""The real UI, in a real browser: `dagster dev` on a free loopback port (own process group, stopped by PID)
over the versioned home's instance, and the generated reports opened from disk — both in headless Chromium.
Text is checked on the DOM Chromium builds (`--dump-dom`, after the JS app ran under a virtual-time budget);
screenshots are kept in test-artifacts/ui/ for people to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, graphql
from tests.ui import support

pytestmark = pytest.mark.skipif(
    support.chromium_binary() is None,
    reason="Chromium is not installed, so the browser tests cannot run: scripts/setup.sh installs Debian's "
    "`chromium` package with apt-get where apt is available (or install it yourself and rerun)",
)

SHOTS = support.ARTIFACTS / "ui"


@pytest.fixture(scope="module")
def vh():
    return support.versioned_home()


@pytest.fixture(scope="module")
def ui(vh, tmp_path_factory):
    """`dagster dev` over a copy of the versioned home's instance (runs, materializations, checks), with the
    community pop-up and telemetry off."""
    tmp = tmp_path_factory.mktemp("ui")
    dh = tmp / "dagster_home"
    shutil.copytree(vh.home / "dagster_home", dh, ignore=shutil.ignore_patterns("*.lock", ".nux", ".telemetry"))
    (dh / "dagster.yaml").write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    port = free_port()
    log_path = tmp / "dagster_dev.log"
    log = open(log_path, "w")
    env = dict(
        os.environ,
        DAGSTER_HOME=str(dh),
        BENCHTRUST_HOME=str(vh.home),
        BENCHTRUST_CONFIG=str(vh.config),
        BENCHTRUST_PROFILE="tiny",
    )
    proc = subprocess.Popen(
        [
            str(Path(support.python()).with_name("dagster")),
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=support.REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline, last = time.time() + 240, None
        while time.time() < deadline:
            assert proc.poll() is None, f"dagster dev exited early:\n{log_path.read_text()[-3000:]}"
            try:
                if graphql(port, "{ assetNodes { id } }")["data"]["assetNodes"]:
                    break
            except Exception as e:  # still starting
                last = e
            time.sleep(2)
        else:
            raise AssertionError(f"dagster dev did not serve assets: {last}\n{log_path.read_text()[-3000:]}")
        yield f"http://127.0.0.1:{port}", log_path
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def test_dagster_ui_shows_the_assets_checks_and_report_metadata(ui):
    base, log = ui
    catalog = support.dump_dom(f"{base}/assets", size="1400,8000")  # the list is virtualised: a tall window shows all
    for name in (
        "benchmark_items",
        "predictions",
        "reliability_reports",
        "report_versions",
        "model_comparisons",
        "reliability_report",
    ):
        assert name in catalog, name
    shot = support.screenshot(f"{base}/assets", SHOTS / "dagster-catalog.png")

    # the reports' neighbourhood in the asset graph: the marts they read, with checks and automation
    lineage_url = f"{base}/assets/reliability_reports?view=lineage"
    lineage = support.dump_dom(lineage_url, size="2600,1800")  # the reports read five marts: room for the whole graph
    for name in ("reliability_report", "report_versions", "model_comparisons", "reliability_reports"):
        assert name in lineage, name
    assert "Passed" in lineage and "DuckDB" in lineage
    support.screenshot(lineage_url, SHOTS / "dagster-reports-lineage.png", size="1600,1000")

    asset_url = f"{base}/assets/reliability_reports"
    page = support.dump_dom(asset_url, size="1600,1400")
    for text in ("verdict", "report_path", "score", "fake-b", "html", "markdown", "rebuild after upstream updates"):
        assert text in page, text
    support.screenshot(asset_url, SHOTS / "dagster-reliability-reports.png", size="1600,1400")

    automation_url = f"{base}/automation"
    automation = support.dump_dom(automation_url, size="1600,1000")
    for name in (
        "dataset_change_sensor",
        "model_change_sensor",
        "benchtrust_automation_sensor",
        "nightly_default_refresh",
        "weekly_full_refresh",
    ):
        assert name in automation, name
    support.screenshot(automation_url, SHOTS / "dagster-automation.png", size="1600,1000")
    assert shot.stat().st_size > 10_000
    assert "Traceback" not in log.read_text()


def _latest(vh, model: str) -> Path:
    rv = vh.query("select report_path from marts.report_versions where model = ? and is_latest", [model])
    return Path(rv.iloc[0]["report_path"])


def test_report_opens_in_chromium_with_headline_verdicts_and_plots(vh):
    report = _latest(vh, "fake-b")
    data = json.loads(report.with_name("report.json").read_text())
    dom = support.dump_dom(report.as_uri(), budget_ms=3000, size="1300,5200")
    headline = re.search(r'<span class="headline" id="headline">([^<]+)</span>', dom)
    assert headline and headline.group(1) == f"{100 * data['headline']['accuracy']:.1f}%"
    assert "fake-b on tinyq" in dom and 'id="overall-verdict"' in dom
    assert len(re.findall(r"<svg[^>]*class=\"plot\"", dom)) >= 5  # forest, templates, calibration, positions, changes
    for label in (
        "interval forest plot across models",
        "score by prompt template",
        "calibration curve",
        "answer-position bias",
        "items changed since the previous version",
    ):
        assert f'aria-label="{label}"' in dom, label
    assert "model version" in dom and "What changed" in dom
    support.screenshot(report.as_uri(), SHOTS / "report-fake-b-latest.png", budget_ms=3000, size="1300,5200")

    index = sorted((vh.reports / "_benchmarks" / "tinyq").glob("*/index.html"), key=lambda p: p.stat().st_mtime)[-1]
    idom = support.dump_dom(index.as_uri(), budget_ms=3000)
    assert "tinyq across models" in idom and "<svg" in idom and all(m in idom for m in support.SKILL)
    support.screenshot(index.as_uri(), SHOTS / "benchmark-index-tinyq.png", budget_ms=3000, size="1300,1400")


def test_hostile_item_text_is_inert_in_the_browser(vh):
    rv = vh.query("select report_path from marts.report_versions where model = 'fake-a' and version_seq = 2")
    report = Path(rv.iloc[0]["report_path"])
    dom = support.dump_dom(report.as_uri(), budget_ms=3000, size="1300,5200")
    assert "<script" not in dom.lower()  # no script element exists, from the template or from item text
    assert re.search(r"<[^>]*\sonerror\s*=", dom) is None  # no element got an onerror attribute
    assert '&lt;script&gt;alert("pwned")&lt;/script&gt;' in dom  # the payload is visible as text
    changed = dom[dom.index('id="changed-items"') :]
    assert vh.edited_item in changed[: changed.index("</table>")]  # the what-changed section names the edited item
    support.screenshot(report.as_uri(), SHOTS / "report-fake-a-what-changed.png", budget_ms=3000, size="1300,2600")
