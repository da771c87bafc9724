"""The Benchmarks page's run panel: what this machine is missing for the pair, a button that measures it as a
background job (benchmarks/jobs: harness/runner.py's run_pair on this machine, or on a machine of the Ray cluster
when KD_RAY_ADDRESS is set: "Measure on"), the queue, and the running job's progress."""

from __future__ import annotations

import streamlit as st

from benchmarks.core.device import detect_hardware, thread_count
from benchmarks.core.models import ModelLoadError, check_loadable, check_spec
from benchmarks.core.pairs import BUILTIN_PAIRS, PairSpec
from benchmarks.core.vocabulary import DEFAULT_RUNTIME, RUNTIME_LABELS, RUNTIMES
from benchmarks.harness import runner
from benchmarks.harness.results import BenchmarkResult
from benchmarks.runtimes.registry import unavailable_reason
from benchmarks.store.jobs import JobRecord, QueueFull
from dashboard import resources, safe
from dashboard.sections import job_control, job_panel

THIS_MACHINE = "this machine"


def run_panel(pair: PairSpec, device: str, results: list[BenchmarkResult], version: tuple[int, str]) -> None:
    """What is missing for this machine, a button that measures it in the background, and its progress."""
    path = resources.settings().results_db
    # Runtimes other than eager export or compile each model first (a minute or two each): opt in.
    here = [rt for rt in RUNTIMES if unavailable_reason(rt, "fp32", device) is None]
    cols = st.columns([2, 3])
    chosen = cols[0].multiselect("Runtimes to measure", here, default=[DEFAULT_RUNTIME], key="bench_run_runtimes",
                                 format_func=RUNTIME_LABELS.__getitem__)
    on = _measure_on(cols[1])
    absent = [unavailable_reason(rt, "fp32", device) for rt in RUNTIMES if rt not in here]
    if absent:
        st.caption(" ".join(absent))
    request = runner.RunRequest(pair, device, runtimes=tuple(chosen) or (DEFAULT_RUNTIME,))
    variants, missing = runner.missing(request, results)

    def body(jobs: list[JobRecord]) -> None:
        with st.container(border=True):
            _queue([j for j in jobs if j.active])
            running = next((j for j in jobs if j.active and (j.target == (on or j.target))), None)
            if running is not None:
                job_panel.progress(running, "Measuring", "bench")
                return
            # Only this pair's run on this device and machine: another pair's failure is not this page's news.
            job_panel.ended(next((j for j in jobs if not j.active and _same_subject(j, request, on)), None),
                            "benchmark run")
            if on:
                _remote(pair, request, on)
                return
            label = f"{detect_hardware().label(device)} at {thread_count(request.settings().threads)}"
            if not missing:
                st.success(f"Every teacher/student result in {', '.join(variants)} for the chosen runtimes is "
                           f"cached for {label}.")
                return
            names = ", ".join(f"{role} {variant}" for role, variant in missing)
            st.markdown(f"**{safe.text(label)}** has no full-grid results yet for: {names}.")
            try:
                for spec in (pair.teacher, pair.student):
                    check_loadable(spec, resources.settings())  # cheap: nothing is loaded or downloaded
            except ModelLoadError as exc:
                # No button that could only start a run bound to fail: say why instead.
                st.info(f"Measuring is off for this pair now. {safe.message(exc)}")
                return
            st.caption("Each model is measured in a fresh process (teacher and student taking turns), ≥ 10 iterations "
                       "per grid cell; on a 2-core CPU a BERT-base-size model takes several minutes. Results of other "
                       "machines are unaffected.")
            if st.button(f"Measure the {len(missing)} missing", type="primary", key="bench_start"):
                _start(pair, request, "")

    # Polls the jobs and the cache version: results measured by any session, process or machine show up here.
    job_panel.watch("benchmark", body, lambda: resources.benchmark_store(path).version())


def _same_subject(job: JobRecord, request: runner.RunRequest, on: str) -> bool:
    """Whether `job` measured this pair on this device of the machine chosen in "Measure on"."""
    try:
        theirs = runner.RunRequest.from_json(job.request)
    except (ValueError, KeyError, TypeError):
        return False
    return theirs.pair == request.pair and theirs.device == request.device and (not on or job.target == on)


def _measure_on(where) -> str:
    """"" for this machine; with a cluster, the key of the connected machine chosen in "Measure on"."""
    try:
        machines = [m for m in resources.jobs().machines() if m.alive]
    except job_panel.UNAVAILABLE as exc:
        st.warning(safe.message(exc))
        return ""
    if not machines:
        return ""
    labels = {"": THIS_MACHINE, **{m.key: m.label for m in machines}}
    return where.selectbox("Measure on", list(labels), format_func=labels.__getitem__, key="bench_on")


def _queue(active: list[JobRecord]) -> None:
    if len(active) < 2 and not resources.settings().ray_address:
        return  # one machine, one run at a time: the progress bar says it all
    if active:
        st.caption("Queue: " + " · ".join(f"{j.state} on {safe.text(j.machine or j.target or THIS_MACHINE)}"
                                         for j in active))


def _remote(pair: PairSpec, request: runner.RunRequest, on: str) -> None:
    st.caption("That machine measures what its results lack for the chosen runtimes, with all of its CPUs (and GPU) "
               "reserved while it times; each model's results appear here as it lands.")
    if st.button("Measure there", type="primary", key="bench_start"):
        _start(pair, request, on)


def _start(pair: PairSpec, request: runner.RunRequest, on: str) -> None:
    try:
        if BUILTIN_PAIRS.get(pair.key) != pair:
            for spec in (pair.teacher, pair.student):
                check_spec(spec, resources.settings())  # one sentence now, not a failed run later
        # single: a run already waiting or going for that machine is shown instead (two tabs pressing at once)
        resources.jobs().submit("benchmark", request.to_json(), on=on, owner=job_control.session_id(), single=True)
    except (ModelLoadError, QueueFull, *job_panel.UNAVAILABLE) as exc:
        st.error(safe.message(exc))
        return
    except OSError:
        st.error("This server cannot write to its state folder (KD_STATE_DIR), so it cannot start a run.")
        return
    st.rerun()
