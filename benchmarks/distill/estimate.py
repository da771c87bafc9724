"""How long a live-distillation job will take on this server now: its CPU time, from the jobs this server finished
(else the README's quiet measurement), stretched by how busy the machine is, plus what is queued ahead of it. While a
job runs, its own pace so far says how long is left. Pure: the caller passes the jobs and the load average."""

from __future__ import annotations

import statistics
from typing import Sequence

from benchmarks.distill.live import LiveConfig
from benchmarks.distill.live_jobs import Job

# README, "In a classroom": the default job (2 layers, 160 steps) took 141 s of CPU on the pocket teacher, loading
# and the final comparison included, one torch thread.
QUIET_CPU_S_PER_STEP = 141 / 160
RECENT = 5  # finished jobs that set the CPU rate


def cpu_seconds_per_step(history: Sequence[Job], layers: int) -> tuple[float, str]:
    """CPU seconds per step for a student of `layers` layers, and what the figure rests on."""
    done = [j for j in history if j.state == "finished" and j.cpu_seconds > 0 and j.config.steps > 0]
    alike = [j for j in done if j.config.layers == layers][:RECENT] or done[:RECENT]
    if not alike:
        return QUIET_CPU_S_PER_STEP, "the README's measurement of the default job on 2 quiet cores"
    rate = statistics.median(j.cpu_seconds / j.config.steps for j in alike)
    return rate, f"the CPU time of the last {len(alike)} finished job{'s' if len(alike) > 1 else ''} on this server"


def slowdown(load: float, cores: int, threads: int = 1) -> float:
    """How much longer than its CPU time a job with `threads` threads takes when the 1-minute load average is `load`
    on `cores` cores: each runnable thread gets about cores / load of a core once the cores are oversubscribed."""
    busy = load + threads  # the job's own threads join the queue
    return max(1.0, busy / cores)


def steps_left(job: Job) -> int:
    return max(0, job.config.steps - (job.losses[-1].step if job.losses else 0))


def stretch(history: Sequence[Job], load: float, cores: int) -> tuple[float, str]:
    """Wall time over CPU time: as the last finished jobs on this server had it, else from the load average now."""
    done = [j for j in history if j.state == "finished" and j.cpu_seconds > 0 and j.seconds > 0][:RECENT]
    if done:
        return (max(1.0, statistics.median(j.seconds / j.cpu_seconds for j in done)),
                f"wall over CPU time of the last {len(done)} finished job{'s' if len(done) > 1 else ''} here")
    return slowdown(load, cores), f"a load average of {load:.1f} on {cores} cores"


def wait_seconds(config: LiveConfig, history: Sequence[Job], load: float, cores: int) -> tuple[float, str]:
    """Seconds until a job of `config` submitted now would finish, and one sentence saying how that was judged."""
    rate, basis = cpu_seconds_per_step(history, config.layers)
    factor, why = stretch(history, load, cores)
    ahead = sum(steps_left(j) for j in history if j.active) * rate
    total = (config.steps * rate + ahead) * factor
    queue = f", after {ahead * factor / 60:.0f} min of jobs ahead" if ahead else ""
    return total, (f"about {max(1, round(total / 60))} min on this server now{queue}: {config.steps * rate:.0f} s of "
                   f"CPU (from {basis}) × {factor:.1f} (from {why})")


def left_seconds(job: Job, history: Sequence[Job], load: float, cores: int) -> float:
    """For a queued or running job: the CPU time of its steps left, stretched by the load now."""
    rate, _ = cpu_seconds_per_step(history, job.config.layers)
    return steps_left(job) * rate * stretch(history, load, cores)[0]
