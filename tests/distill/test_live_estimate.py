"""The live-distillation estimate: CPU time from this server's finished jobs (else the README's quiet figure),
stretched by the load now, plus the jobs ahead."""

from __future__ import annotations

import pytest

from benchmarks.distill import estimate
from benchmarks.distill.live import LiveConfig, StepLoss
from benchmarks.distill.live_jobs import Job


def _job(state: str, steps: int = 160, layers: int = 2, cpu: float = 0.0, done: int = 0, wall: float = 0.0) -> Job:
    losses = tuple(StepLoss(s, 0.5, 0.5, 0.5) for s in range(1, done + 1))
    return Job("j", ("pocket", "teacher"), LiveConfig(layers=layers, steps=steps), 0.0, state, cpu_seconds=cpu,
               seconds=wall, losses=losses)


def test_quiet_cores_and_no_history_give_the_readme_figure():
    seconds, why = estimate.wait_seconds(LiveConfig(), [], load=0.5, cores=2)
    assert seconds == pytest.approx(141) and "about 2 min" in why and "README" in why


def test_a_busy_machine_stretches_the_cpu_time_measured_on_this_server():
    history = [_job("finished", cpu=200.0), _job("finished", cpu=180.0, layers=3), _job("failed", cpu=5.0)]
    rate, basis = estimate.cpu_seconds_per_step(history, layers=2)
    assert rate == pytest.approx(200 / 160) and "last 1 finished job on this server" in basis
    seconds, why = estimate.wait_seconds(LiveConfig(), history, load=9.0, cores=2)
    assert seconds == pytest.approx(200 * 5.0)  # (9 + the job's own thread) / 2 cores
    assert "× 5.0 (from a load average of 9.0 on 2 cores)" in why


def test_the_wall_over_cpu_ratio_of_jobs_finished_here_wins_over_the_load_formula():
    history = [_job("finished", cpu=141.0, wall=452.0)]  # README: 452 s wall for 141 s of CPU at load 9-12
    seconds, why = estimate.wait_seconds(LiveConfig(), history, load=10.0, cores=2)
    assert seconds == pytest.approx(452.0) and "wall over CPU time of the last 1 finished job here" in why


def test_jobs_ahead_are_added_and_a_running_job_counts_its_steps_left():
    running = _job("running", done=60)
    history = [running, _job("queued")]
    seconds, why = estimate.wait_seconds(LiveConfig(), history, load=0.0, cores=2)
    assert seconds == pytest.approx((160 + 100 + 160) * estimate.QUIET_CPU_S_PER_STEP)
    assert "of jobs ahead" in why
    assert estimate.left_seconds(running, history, 3.0, 2) == pytest.approx(100 * estimate.QUIET_CPU_S_PER_STEP * 2)
