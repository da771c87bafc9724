"""Distil it yourself (Distillation page): queue a job that makes a 1-3 layer student from the loaded teacher, watch
its curves (every session sees the running job), then compare it with the bundled pocket student and the teacher."""

from __future__ import annotations

import os
from dataclasses import asdict

import pandas as pd
import streamlit as st

from benchmarks.core.figures import mib
from benchmarks.core.pairs import PairSpec
from benchmarks.core.settings import Settings
from benchmarks.distill import estimate
from benchmarks.distill.live import LAYER_CHOICES, STEPS_RANGE, T_RANGE, LiveConfig, labels_available
from benchmarks.distill.live_jobs import Job
from benchmarks.jobs.kinds import LiveRequest, live_job_of
from benchmarks.jobs.service import fetch_students
from benchmarks.store.jobs import JobRecord, QueueFull
from dashboard import resources, safe
from dashboard.charts.live import SMOOTH, dev_figure, loss_figure
from dashboard.sections import job_control, job_panel


def section(pair_spec: PairSpec, limits: Settings) -> None:
    st.header("5 · Distil it yourself")
    st.markdown(
        "Make a small student from the loaded teacher, here and now. The training text is 6,000 SST-2 train sentences "
        "**without labels**: the teacher labels them with its soft targets, and that is all distillation needs. The "
        "student "
        "starts from every other teacher layer (DistilBERT's recipe) and learns to match the teacher at temperature T. "
        "Jobs run one at a time on this server, in the background: leave the page, come back, or watch from another "
        "browser."
    )
    if pair_spec.architecture_only:
        st.info("The architecture-only pair has random weights: there is nothing to distil. Pick the pocket pair.")
    else:
        _form(pair_spec)
    _jobs()


def _form(pair_spec: PairSpec) -> None:
    have_labels = labels_available()
    # Outside the form: α follows this switch at once, instead of after the next submit.
    hard = st.toggle(
        "Add the hard-label term (cross-entropy on gold labels)",
        disabled=not have_labels,
        key="live_hard",
        help=None
        if have_labels
        else "Gold labels for the training sentences are not on this server: set SST2_DIR to a folder holding "
             "GLUE SST-2 train.tsv.",
    ) and have_labels
    with st.form("live_form"):
        a, b, c, d = st.columns(4)
        layers = a.select_slider("Student layers", LAYER_CHOICES, value=LiveConfig.layers)
        steps = b.number_input("Steps (32 sentences each)", STEPS_RANGE[0], STEPS_RANGE[1], LiveConfig.steps, step=50)
        temperature = c.slider("Temperature T", T_RANGE[0], T_RANGE[1], LiveConfig.temperature, step=0.5)
        eval_every = d.number_input("Check on dev every N steps", 10, 500, LiveConfig.eval_every, step=10)
        alpha = st.slider(
            "α: weight of the KD term (loss = α·KD + (1 − α)·CE)",
            0.0,
            1.0,
            LiveConfig.alpha,
            step=0.05,
            disabled=not hard,  # without the hard-label term the loss is KD alone: α weighs nothing
            key="live_alpha",
            help=None if hard else "Only with the hard-label term on: without it the loss is the KD term alone.",
        )
        submitted = st.form_submit_button("Distil a student", type="primary")
    config = LiveConfig(layers=int(layers), steps=int(steps))
    _, how_long = estimate.wait_seconds(config, _history(), os.getloadavg()[0], os.cpu_count() or 1)
    st.caption(f"{config.layers} layer{'s' if config.layers > 1 else ''}, {config.steps} steps: {how_long}.")
    if submitted:
        try:
            config = LiveConfig(
                layers=int(layers),
                steps=int(steps),
                temperature=float(temperature),
                alpha=float(alpha),
                hard_labels=bool(hard),
                eval_every=int(eval_every),
            )
        except ValueError as exc:
            st.error(safe.message(exc))
            return
        request = LiveRequest((pair_spec.teacher.source, pair_spec.teacher.ref), asdict(config))
        try:  # the job layer bounds the queue per session and per server (KD_LIVE_MAX_QUEUED, ..._SERVER)
            resources.jobs().submit("live", request.to_json(), owner=job_control.session_id())
        except OSError:
            st.error("This server cannot write to its state folder (KD_STATE_DIR), so it cannot run or keep a student.")
        except (QueueFull, *job_panel.UNAVAILABLE) as exc:
            st.error(safe.message(exc))


def _history() -> list[Job]:
    """This server's live jobs, newest first: what the estimates learn from."""
    return [live_job_of(r) for r in job_panel.kind_jobs("live")]


def _jobs() -> None:
    def view(records: list[JobRecord]) -> None:
        resources.jobs().ensure_worker("live")  # heals a request that came in as a worker was exiting
        if fetch_students(resources.jobs()):  # made on a cluster node: now in this machine's sidebar too
            st.rerun()
        queued = [r for r in records if r.state == "queued"]
        for place, record in enumerate(reversed(queued), 1):
            left, right = st.columns([4, 1])
            left.caption(f"Queued ({place} of {len(queued)}): {live_job_of(record).config.describe()}")
            job_panel.stop_button(record, "live", "Cancel", right)
        shown = next((r for r in records if r.state == "running"), None) or next(
            (r for r in records if r.state != "queued"), None)
        if shown is None:
            st.caption("No student has been distilled on this server yet.")
        else:
            _job(shown)

    job_panel.watch("live", view)


def _job(record: JobRecord) -> None:
    job = live_job_of(record)
    title = {"running": "Running", "finished": "Finished", "failed": "Failed", "stopped": "Stopped"}
    st.subheader(f"{title.get(record.state, record.state)}: {job.config.describe()}")
    if record.state == "running":
        done = job.losses[-1].step if job.losses else 0
        left, right = st.columns([4, 1])
        seconds = estimate.left_seconds(job, _history(), os.getloadavg()[0], os.cpu_count() or 1)
        left.progress(done / job.config.steps, text=f"{job.phase} · about {max(1, round(seconds / 60))} min left at "
                                                    "this load")
        job_panel.stop_button(record, "live", "Cancel", right)
    elif job.message:
        st.text(job.message)  # as text: it can quote a model reference a visitor typed
    if job.losses:
        left, right = st.columns(2)
        left.plotly_chart(loss_figure(job.losses, job.hard_vs, job.config.hard_labels), key="live-losses")
        right.plotly_chart(dev_figure(job.checks, job.config.steps), key="live-dev")
        last = job.losses[-1]
        st.caption(
            f"Step {last.step}: KD {last.kd:.4f}, hard {last.hard:.4f} (vs {job.hard_vs}), total {last.total:.4f} "
            f"nats — one batch; "
            f"the curves are means of {SMOOTH} steps. Dev checks on all 872 SST-2 dev sentences."
        )
    if job.state == "finished":
        _results(job)


def _results(job: Job) -> None:
    frame = pd.DataFrame(
        {
            "model": [s.name for s in job.scores],
            "layers": [s.layers for s in job.scores],
            "parameters": [f"{s.params / 1e6:.1f} M" for s in job.scores],
            "dev accuracy [95 % CI]": [f"{s.accuracy:.1%} [{s.ci_low:.1%} – {s.ci_high:.1%}]" for s in job.scores],
            "agreement with the teacher": [f"{s.agreement:.1%}" for s in job.scores],
            "throughput": [s.throughput.label for s in job.scores],
            "weights": [f"{mib(s.weights_bytes):,.1f} MiB" if s.weights_bytes else "–" for s in job.scores],
        }
    )
    st.dataframe(frame, hide_index=True, key="live-results")
    conditions = job.scores[0].throughput.conditions.describe() if job.scores else ""
    st.caption(
        f"Wall time {job.seconds:.0f} s ({job.cpu_seconds:.0f} s of CPU) for the whole job, this comparison included. "
        f"Measured by the job on {job.measured_on}. Throughput: one timed pass over dev at {conditions}, in one "
        "process, so the three models saw the same machine — still noisy where other work shares it, and not the "
        "Benchmarks page's figure, which times fixed batch × length shapes. Weights: fp32 state dict, as run. "
        "Accuracy differences under ~2 pp are within the intervals. To use this student elsewhere, pick “Custom” in "
        "the sidebar and choose it there."
    )
