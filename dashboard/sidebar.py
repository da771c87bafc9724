"""The shared sidebar: which pair, on which device. Its choice is mirrored in the URL for sharing."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import torch

from benchmarks.core.device import detect_hardware
from benchmarks.core.hub import hub_reachable
from benchmarks.core.models import POCKET_DIR, live_student_ref
from benchmarks.core.pairs import BUILTIN_PAIRS, PairSpec, custom_pair
from benchmarks.core.paths import shown
from benchmarks.core.settings import DATA_DIR, REPO_ROOT, writable
from benchmarks.distill.live_jobs import LiveStore, Student
from dashboard import resources

CUSTOM = "custom"
_LABELS = {
    "pocket": "Pocket pair (offline, bundled)",
    "hub": "BERT-base vs DistilBERT (Hub)",
    "architecture": "Architecture only: 12 vs 6 layers (timing)",
    CUSTOM: "Custom Hub ids or folders",
}


def select_pair(fixed: bool = False) -> PairSpec:
    """Render the pair selector; return the chosen pair (also kept in session_state['pair']). `fixed` (presenter
    mode) draws nothing and takes the pair from the link, so the room cannot change it."""
    allowed = resources.settings().allowed_sources
    options = [k for k in _LABELS if k == CUSTOM and ({"hub", "local"} & set(allowed)) or k in allowed]
    wanted = st.query_params.get("pair", "pocket")
    index = options.index(wanted) if wanted in options else 0
    choice = options[index] if fixed else st.sidebar.selectbox(
        "Model pair", options, index=index, format_func=_LABELS.__getitem__, key="pair_choice"
    )
    if choice != "pocket" or "pair" in st.query_params:
        st.query_params["pair"] = choice
    if choice == CUSTOM:
        teacher = st.query_params.get("teacher", "textattack/bert-base-uncased-SST-2")
        student = st.query_params.get("student", "distilbert/distilbert-base-uncased-finetuned-sst-2-english")
        if not fixed:
            live_student_picker()
            # Keyed: an unkeyed field whose default follows the URL it writes gets a new identity on every edit.
            teacher = st.sidebar.text_input("Teacher (Hub id or folder)", teacher, max_chars=300, key="teacher_ref")
            student = st.sidebar.text_input("Student (Hub id or folder)", student, max_chars=300, key="student_ref")
        st.query_params["teacher"], st.query_params["student"] = teacher, student
        pair = custom_pair(teacher, student)
    else:
        pair = BUILTIN_PAIRS[choice]
    if choice in ("hub", CUSTOM) and not hub_reachable():
        st.sidebar.caption("Hugging Face Hub: unreachable — Hub ids load only if already in the local cache.")
    if pair.architecture_only:
        st.sidebar.warning("Random weights: predictions are meaningless; use this pair for timing only.")
    st.session_state["pair"] = pair
    return pair


def _use_live_student(students: dict[str, Student]) -> None:
    chosen = students.get(st.session_state.get("live_student") or "")
    if chosen is not None:  # a callback runs before the text fields are drawn, so they show the new refs
        source, ref = chosen.job.teacher
        # Both go into the link: names relative to the project or the state folder, never a server path.
        st.session_state["teacher_ref"] = shown(POCKET_DIR / ref) if source == "pocket" else _relative(ref)
        st.session_state["student_ref"] = live_student_ref(chosen.folder)


def _relative(ref: str) -> str:
    """A folder ref inside the project as a project-relative path; anything else as it was typed."""
    path = Path(ref)
    return path.relative_to(REPO_ROOT).as_posix() if path.is_absolute() and path.is_relative_to(REPO_ROOT) else ref


def live_student_picker() -> None:
    """Students distilled on the Distillation page, with the teacher they came from."""
    students = {s.id: s for s in LiveStore.of(resources.settings()).students()}
    if students:
        st.sidebar.selectbox(
            "A student distilled on this server", list(students), index=None, format_func=lambda i: students[i].label,
            key="live_student", on_change=_use_live_student, args=(students,), placeholder="fills in both fields below",
        )


def device_label(name: str) -> str:
    """What the device select shows: the chip, which is what tells one machine's devices (and machines) apart."""
    if name == "cpu":
        hardware = detect_hardware()
        return f"CPU · {hardware.cpu_model} · {hardware.physical_cores} cores"
    index = int(name.split(":", 1)[1])
    return f"GPU {index} · {torch.cuda.get_device_name(index)}"


def select_device() -> str:
    options = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    device = st.sidebar.selectbox("Device", options, index=len(options) - 1 if len(options) > 1 else 0, key="device",
                                  format_func=device_label)
    st.session_state["device_name"] = device
    return device


def storage_note() -> None:
    """Say where this server cannot write: every page still works, but what they compute is not kept."""
    places = {
        resources.settings().state_dir: "caches: benchmark results, dataset scores",
        DATA_DIR: "bundled models, reference results",
    }
    blocked = [f"`{shown(path)}` ({what})" for path, what in places.items() if not writable(path)]
    if blocked:
        st.sidebar.warning("Read-only: cannot write to " + " and ".join(blocked) + ". Pages still work; new results "
                                                                                   "are not saved.")


def current() -> tuple[PairSpec, str]:
    """For pages: the pair and device chosen in the sidebar (the entry script always sets them)."""
    return st.session_state.get("pair", BUILTIN_PAIRS["pocket"]), st.session_state.get("device_name", "cpu")
