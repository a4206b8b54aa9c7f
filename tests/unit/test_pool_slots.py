"""A run worker killed mid-step leaves its pool slot claimed; the next command frees slots of runs that are over."""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

from pipelines.run import free_leaked_slots


def test_slots_of_finished_or_missing_runs_are_freed_and_live_ones_kept(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("inference", 2)
        dead = DagsterRun(
            job_name="predictions_job", run_id="dead0000-0000-0000-0000-000000000000", status=DagsterRunStatus.FAILURE
        )
        live = DagsterRun(
            job_name="predictions_job", run_id="live0000-0000-0000-0000-000000000000", status=DagsterRunStatus.STARTED
        )
        instance.add_run(dead)
        instance.add_run(live)
        for run in (dead, live):
            assert storage.claim_concurrency_slot("inference", run.run_id, "predictions").is_claimed
        # the pool is full: a third step would wait, which is what stalled the queue after two killed workers
        assert not storage.claim_concurrency_slot("inference", "other", "predictions").is_claimed
        storage.free_concurrency_slots_for_run("other")

        assert free_leaked_slots(instance) == 1
        claimed = {s.run_id for s in storage.get_concurrency_info("inference").claimed_slots}
        assert claimed == {live.run_id}
        assert free_leaked_slots(instance) == 0
