"""The Benchmarks page's run panel: what this machine is missing for the pair, a button that measures it in a
background process (harness/runner.py, through `python -m benchmarks run`), and that run's progress."""

from __future__ import annotations

import streamlit as st

from benchmarks.core import background as runs
from benchmarks.core.device import detect_hardware, thread_count
from benchmarks.core.models import ModelLoadError, check_loadable
from benchmarks.core.pairs import PairSpec
from benchmarks.core.paths import shown
from benchmarks.core.vocabulary import DEFAULT_RUNTIME, RUNTIME_LABELS, RUNTIMES
from benchmarks.harness import runner
from benchmarks.harness.results import BenchmarkResult
from benchmarks.runtimes.registry import unavailable_reason
from dashboard import resources, safe
from dashboard.sections import job_control


def run_panel(pair: PairSpec, device: str, results: list[BenchmarkResult], version: tuple[int, str]) -> None:
    """What is missing for this machine, a button that measures it in the background, and its progress."""
    state_dir, path = resources.settings().state_dir, resources.settings().results_db
    progress_path, log_path = state_dir / "benchmark-progress.json", state_dir / "benchmark-run.log"
    # Runtimes other than eager export or compile each model first (a minute or two each): opt in.
    here = [rt for rt in RUNTIMES if unavailable_reason(rt, "fp32", device) is None]
    chosen = st.columns([2, 3])[0].multiselect("Runtimes to measure", here, default=[DEFAULT_RUNTIME],
                                               key="bench_run_runtimes", format_func=RUNTIME_LABELS.__getitem__)
    absent = [unavailable_reason(rt, "fp32", device) for rt in RUNTIMES if rt not in here]
    if absent:
        st.caption(" ".join(absent))
    # A server's URL stays out of the command line (the run reads KD_DATABASE_URL itself, as every process does).
    db = None if resources.settings().database_url else resources.settings().cache_path
    request = runner.RunRequest(pair, device, db=db,
                                runtimes=tuple(chosen) or (DEFAULT_RUNTIME,))
    variants, missing = runner.missing(request, results)
    was_active = runs.is_active(runs.read_progress(progress_path))

    # Polls a small JSON file and the cache version: fast while a run is going, slowly otherwise, so
    # results measured by any session (or the CLI) show up here without a click.
    @st.fragment(run_every=2.0 if was_active else 15.0)
    def panel() -> None:
        progress = runs.read_progress(progress_path)
        active = runs.is_active(progress)
        if active != was_active or resources.benchmark_store(path).version() != version:
            st.rerun()
        with st.container(border=True):
            if active:
                st.progress(min(1.0, progress.fraction), text=f"Measuring {progress.position} of {progress.total}: "
                            f"{safe.text(progress.current)} · {progress.minutes():.1f} min so far")
                st.caption("The run is a separate process (" + safe.message(progress.command) + "): this page and "
                           "other sessions stay usable, and each model's results appear here as soon as it is "
                           "finished.")
                if not job_control.may_control(progress.owner):
                    job_control.not_yours("bench")
                elif st.button("Stop the run", key="bench_stop"):
                    runs.stop(progress)
                    st.rerun()
                return
            # Only this pair's run on this machine: another pair's failure is not this page's news.
            if progress is not None and progress.about(request.subject) and progress.state == "failed":
                st.warning(f"The last benchmark run for this pair did not finish: {safe.text(progress.message)}")
            elif progress is not None and progress.about(request.subject) and progress.state == "running":
                st.warning(f"The last benchmark run for this pair stopped unexpectedly (see "
                           f"{safe.text(shown(log_path))}); finished models are kept.")
            label = f"{detect_hardware().label(device)} at {thread_count(request.settings().threads)}"
            if not missing:
                st.success(f"Every teacher/student result in {', '.join(variants)} for the chosen runtimes is "
                           f"cached for {label}.")
                return
            names = ", ".join(f"{role} {variant}" for role, variant in missing)
            st.markdown(f"**{label}** has no full-grid results yet for: {names}.")
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
                # or finds another tab's run
                runs.start_background(request.cli_args(), progress_path, log_path, job_control.session_id(),
                                      request.subject)
                st.rerun()

    panel()
