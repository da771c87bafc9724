"""Operator limits, read from environment variables (documented in README.md, "Configuration")."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.core.vocabulary import SOURCES

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"


def _int(name: str, default: int, low: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
    if value < low:
        raise ValueError(f"{name}={value} must be at least {low}")
    return value


def _paths(name: str, default: tuple[Path, ...]) -> tuple[Path, ...]:
    raw = os.environ.get(name)
    if not raw:
        return default
    return tuple(Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip())


@dataclass(frozen=True)
class Settings:
    max_chars: int = 20_000
    max_tokens: int = 512
    attention_max_tokens: int = 64
    max_upload_mb: int = 5  # megabytes of 1,000,000 bytes, as the browser counts them (.streamlit/config.toml agrees)
    max_upload_rows: int = 20_000
    max_score_files: int = 50  # stored data-set scores; the oldest go first
    max_artefact_mb: int = 10_000  # exported runtime graphs kept together; the least recently used go first
    max_model_mb: int = 2_000  # a model folder's files together (BERT-large's safetensors are 1,340 MB)
    max_params_m: int = 400  # estimated from config.json before loading (BERT-large: 335 M)
    load_timeout_s: int = 300
    allowed_sources: tuple[str, ...] = SOURCES
    model_roots: tuple[Path, ...] = field(default_factory=lambda: (DATA_DIR.resolve(),))
    state_dir: Path = field(default_factory=lambda: (REPO_ROOT / "var").resolve())
    heavy_slots: int = 1  # visitors' heavy jobs (scoring a data set) at once in one server process; the rest wait
    live_keep: int = 5  # students distilled on the Distillation page that are kept; the oldest goes first
    threads: int = 0  # torch threads for the app's answers and timings; 0: one per core the process may use
    batch_window_ms: int = 25  # micro-batching window (core/batching.py); 0: every request its own forward pass
    max_answering: int = 16  # Compares in progress in one server process; more are told the server is busy
    live_max_queued: int = 2  # live-distillation jobs one session may have waiting or running
    live_max_queued_server: int = 6  # ... and all sessions together
    live_keep_jobs: int = 30  # finished live-distillation job records kept; the oldest go first
    # Lets a presenter stop or cancel any session's job; empty: only the session that started a job may.
    admin_token: str = field(default="", repr=False)
    database_url: str = ""  # KD_DATABASE_URL: a team's shared database (PostgreSQL); empty: the sqlite file below
    ray_address: str = ""  # KD_RAY_ADDRESS: jobs go to this Ray cluster (host:port of its head); empty: this machine

    def __post_init__(self) -> None:
        unknown = set(self.allowed_sources) - set(SOURCES)
        if unknown:
            raise ValueError(f"KD_ALLOWED_SOURCES has unknown sources {sorted(unknown)}; use {list(SOURCES)}")

    @property
    def cache_path(self) -> Path:
        return self.state_dir / "results.sqlite"

    @property
    def results_db(self) -> str:
        """The results database every process of this deployment uses: KD_DATABASE_URL, else the sqlite file."""
        return self.database_url or str(self.cache_path)

    @property
    def live_dir(self) -> Path:
        return self.state_dir / "live"

    @property
    def students_dir(self) -> Path:
        """Finished live-distilled students: loadable as local models, like a folder under model_roots."""
        return self.live_dir / "students"

    @property
    def local_roots(self) -> tuple[Path, ...]:
        """Where local model folders may be: the model roots and the live-distilled students."""
        return (*self.model_roots, self.students_dir)


def load_settings() -> Settings:
    """Settings from KD_* environment variables; anything unset keeps its default."""
    sources = os.environ.get("KD_ALLOWED_SOURCES")
    return Settings(
        max_chars=_int("KD_MAX_CHARS", Settings.max_chars),
        max_tokens=_int("KD_MAX_TOKENS", Settings.max_tokens, low=8),
        attention_max_tokens=_int("KD_ATTENTION_MAX_TOKENS", Settings.attention_max_tokens, low=4),
        max_upload_mb=_int("KD_MAX_UPLOAD_MB", Settings.max_upload_mb),
        max_upload_rows=_int("KD_MAX_UPLOAD_ROWS", Settings.max_upload_rows),
        max_score_files=_int("KD_MAX_SCORE_FILES", Settings.max_score_files),
        max_artefact_mb=_int("KD_MAX_ARTEFACT_MB", Settings.max_artefact_mb),
        max_model_mb=_int("KD_MAX_MODEL_MB", Settings.max_model_mb),
        max_params_m=_int("KD_MAX_PARAMS_M", Settings.max_params_m),
        load_timeout_s=_int("KD_LOAD_TIMEOUT_S", Settings.load_timeout_s),
        allowed_sources=tuple(s.strip() for s in sources.split(",") if s.strip()) if sources else SOURCES,
        model_roots=_paths("KD_MODEL_ROOTS", (DATA_DIR.resolve(),)),
        state_dir=Path(os.environ.get("KD_STATE_DIR", REPO_ROOT / "var")).expanduser().resolve(),
        heavy_slots=_int("KD_HEAVY_SLOTS", Settings.heavy_slots),
        live_keep=_int("KD_LIVE_KEEP", Settings.live_keep),
        threads=_int("KD_THREADS", Settings.threads, low=0),
        batch_window_ms=_int("KD_BATCH_WINDOW_MS", Settings.batch_window_ms, low=0),
        max_answering=_int("KD_MAX_ANSWERING", Settings.max_answering),
        live_max_queued=_int("KD_LIVE_MAX_QUEUED", Settings.live_max_queued),
        live_max_queued_server=_int("KD_LIVE_MAX_QUEUED_SERVER", Settings.live_max_queued_server),
        live_keep_jobs=_int("KD_LIVE_KEEP_JOBS", Settings.live_keep_jobs),
        admin_token=os.environ.get("KD_ADMIN_TOKEN", "").strip(),
        database_url=os.environ.get("KD_DATABASE_URL", "").strip(),
        ray_address=os.environ.get("KD_RAY_ADDRESS", "").strip(),
    )


def writable(path: Path) -> bool:
    """Whether files can be created in `path`, or, if it does not exist yet, in the nearest folder
    above it (which is where it would be made). Probed with a real file, because permission bits
    mislead when the server runs as root."""
    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return False
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False
