"""Teacher/student pairs as plain names: where each model comes from (source and reference), the built-in
pairs, and custom pairs from user text. No model code here, so result records can carry a spec cheaply."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.core.vocabulary import Role, Source

LIVE_STUDENTS = "live/students/"  # refs of live-distilled students start so (relative to the state folder)


@dataclass(frozen=True)
class ModelSpec:
    source: Source
    ref: str  # hub id, folder path, or the pocket / architecture role name
    role: Role

    @property
    def display_name(self) -> str:
        if self.source == "pocket":
            return f"pocket {self.role}"
        if self.source == "architecture":
            return {"teacher": "BERT-base (random weights)", "student": "DistilBERT-base (random weights)"}[self.role]
        return self.ref.rstrip("/").split("/")[-1] if self.source == "local" else self.ref


@dataclass(frozen=True)
class PairSpec:
    key: str
    title: str
    teacher: ModelSpec
    student: ModelSpec

    @property
    def architecture_only(self) -> bool:
        return self.teacher.source == "architecture"


POCKET_PAIR = PairSpec(
    "pocket",
    "Pocket pair (offline): MiniLM-L6 teacher vs 3-layer distilled student",
    ModelSpec("pocket", "teacher", "teacher"),
    ModelSpec("pocket", "student", "student"),
)
ARCHITECTURE_PAIR = PairSpec(
    "architecture",
    "Architecture only: BERT-base 12 layers vs DistilBERT 6 layers, random weights (timing only, no accuracy)",
    ModelSpec("architecture", "bert-base", "teacher"),
    ModelSpec("architecture", "distilbert-base", "student"),
)
HUB_PAIR = PairSpec(
    "hub",
    "BERT-base vs DistilBERT (Hugging Face Hub)",
    ModelSpec("hub", "textattack/bert-base-uncased-SST-2", "teacher"),
    ModelSpec("hub", "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "student"),
)
# In the order the CLI and the sidebar list them.
BUILTIN_PAIRS = {p.key: p for p in (POCKET_PAIR, ARCHITECTURE_PAIR, HUB_PAIR)}


def custom_pair(teacher_ref: str, student_ref: str, roots: tuple[Path, ...] | None = None) -> PairSpec:
    """A pair from user text: each ref is a Hub id or a local folder (see looks_local). `roots`: where local folders
    may be (default: this server's, Settings.local_roots)."""
    if roots is None:
        from benchmarks.core.settings import load_settings

        roots = load_settings().local_roots

    def spec(ref: str, role: Role) -> ModelSpec:
        ref = ref.strip()
        return ModelSpec("local" if looks_local(ref, roots) else "hub", ref, role)

    t, s = spec(teacher_ref, "teacher"), spec(student_ref, "student")
    return PairSpec(f"custom:{t.ref}|{s.ref}", f"{t.display_name} vs {s.display_name}", t, s)


def looks_local(ref: str, roots: tuple[Path, ...]) -> bool:
    """A folder, not a Hub id: a path ('.', '/' or '~' first), a live-distilled student (`live/students/<id>`), or a
    folder under the allowed roots. The disk is asked only about the roots, so whether something exists elsewhere
    never changes which refusal a visitor reads."""
    if ref.startswith((".", "/", "~", LIVE_STUDENTS)):
        return True
    try:
        folder = Path(ref).expanduser().resolve()
        return any(folder == root or root in folder.parents for root in roots) and folder.is_dir()
    except (OSError, ValueError, RuntimeError):  # name too long, NUL byte, unknown ~user: not a folder
        return False


def pair_to_dict(pair: PairSpec) -> dict:
    """A pair as JSON-ready data (a job's request): its key, title and the two model specs."""
    return {"key": pair.key, "title": pair.title, "teacher": [pair.teacher.source, pair.teacher.ref],
            "student": [pair.student.source, pair.student.ref]}


def pair_from_dict(raw: dict) -> PairSpec:
    """The pair of pair_to_dict; a built-in pair by its key, as this version defines it."""
    if raw["key"] in BUILTIN_PAIRS:
        return BUILTIN_PAIRS[raw["key"]]
    return PairSpec(raw["key"], raw["title"], ModelSpec(*raw["teacher"], "teacher"), ModelSpec(*raw["student"],
                                                                                                 "student"))
