"""Loading models: from the pocket folder, a local folder, the Hub or a bare architecture, and lining their
labels up with the canonical NEGATIVE/POSITIVE order."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import pickle
import re
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from huggingface_hub import resolve_revision, try_to_load_from_cache
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, has_file

from benchmarks.core.dimensions import dimension
from benchmarks.core.figures import weights_bytes
from benchmarks.core.hub import hub_reachable
from benchmarks.core.pairs import LIVE_STUDENTS, ModelSpec, PairSpec
from benchmarks.core.paths import scrub, shown
from benchmarks.core.settings import DATA_DIR, Settings, load_settings
from benchmarks.core.vetting import (
    WEIGHT_SUFFIXES,
    FolderRefused,
    check_config_size,
    named_files,
    read_config,
    resolve_folder,
    vet_folder,
)
from benchmarks.core.vocabulary import CANONICAL_LABELS

log = logging.getLogger(__name__)
POCKET_DIR = DATA_DIR / "pocket"
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9._-]{1,96})?$")
PICKLE_NOTE = (
    "No safetensors weights were available, so the pickle weights (pytorch_model.bin) were read with torch's "
    "weights_only loader, which loads tensors only and runs no code."
)
_SYNONYMS = {
    "negative": "NEGATIVE", "neg": "NEGATIVE", "label_0": "NEGATIVE", "0": "NEGATIVE",
    "positive": "POSITIVE", "pos": "POSITIVE", "label_1": "POSITIVE", "1": "POSITIVE",
}


class ModelLoadError(RuntimeError):
    """A model could not be loaded; str(error) is one sentence fit for the UI and the CLI."""


@dataclass
class LoadedModel:
    """A model ready for inference. Shared between threads: never mutate it after loading."""

    spec: ModelSpec
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    labels: tuple[str, ...]  # canonical label name per output index
    label_note: str  # how the raw config labels were mapped, for the UI
    fingerprint: str  # identity of the weights (hash or revision), for the results cache
    size_bytes: int  # on-disk weight size (0 for architecture-only models)
    attn_implementation: str
    weights_note: str = ""  # one sentence when the weights did not come from safetensors, for the UI
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    precision = "fp32"  # load_model's precision; the Benchmarks harness converts its own copies

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @functools.cached_property
    def weights_bytes(self) -> int:
        """The weights in the precision they run in, as figures.weights_bytes defines size (computed once)."""
        return weights_bytes(self.model)

    @property
    def n_layers(self) -> int:
        return int(dimension(self.model.config, "layers"))

    @property
    def n_heads(self) -> int:
        return int(dimension(self.model.config, "heads"))

    @property
    def max_length(self) -> int:
        positions = int(dimension(self.model.config, "positions"))
        return min(positions, int(self.tokenizer.model_max_length or positions))

    @property
    def device(self) -> torch.device:
        return self.model.device  # transformers models and runtimes.RuntimeModel both carry it


def canonical_labels(id2label: dict[int, str]) -> tuple[tuple[str, ...], str]:
    """Map a config's labels onto NEGATIVE/POSITIVE; return the names per index and a note."""
    raw = [str(id2label[i]) for i in sorted(id2label)]
    if len(raw) != 2:
        raise ModelLoadError(f"This dashboard compares two-class sentiment models; the model has {len(raw)} labels: "
                             f"{raw}.")
    mapped = tuple(_SYNONYMS.get(name.strip().lower(), "") for name in raw)
    if sorted(mapped) != sorted(CANONICAL_LABELS):
        raise ModelLoadError(f"Cannot tell which label is positive: the model's labels are {raw}.")
    note = ", ".join(f"{r} → {m}" if r != m else r for r, m in zip(raw, mapped))
    if any(r.lower().startswith("label_") for r in raw):
        note += " (generic names; SST-2 convention: index 1 = positive)"
    return mapped, note


def canonical_columns(labels: Sequence[str]) -> list[int]:
    """The output column of each of CANONICAL_LABELS, in that order: gold label y (1 = positive) is column [y]."""
    return [list(labels).index(name) for name in CANONICAL_LABELS]


def canonical_logits(logits: torch.Tensor, labels: Sequence[str]) -> torch.Tensor:
    """Reorder output columns to CANONICAL_LABELS, so gold labels (1 = positive) index them directly."""
    return logits[:, canonical_columns(labels)]


def check_local_folder(path: str | Path, settings: Settings | None = None) -> Path:
    """Resolve a user-given model folder: under the allowed roots, with weights, and vetted (core/vetting.py)
    before anything loads it. Pickle weights (pytorch_model.bin) are accepted as on the Hub: load_model reads them
    only through torch's weights_only loader, and only when no safetensors are there."""
    settings = settings or load_settings()
    roots = settings.local_roots
    try:
        folder = resolve_folder(str(live_student_path(str(path), settings)), roots)
        if not (folder / "config.json").is_file():
            raise FolderRefused(f"{shown(folder, roots)} is not a Hugging Face model folder (no config.json).")
        _vet(folder, roots, settings)
        if not _weight_files(folder):
            raise FolderRefused(f"{shown(folder, roots)} holds no model weights (model.safetensors or "
                                f"pytorch_model.bin).")
    except FolderRefused as exc:
        raise ModelLoadError(str(exc)) from None
    return folder


def _vet(folder: Path, roots: tuple[Path, ...], settings: Settings) -> dict:
    return vet_folder(folder, roots, settings.max_model_mb * 1_000_000, settings.max_params_m * 1_000_000)


def live_student_ref(folder: Path) -> str:
    """How a live-distilled student is named in links and fields: relative to the state folder, never the server's
    absolute path (`live/students/<id>`)."""
    return f"{LIVE_STUDENTS}{folder.name}"


def live_student_path(ref: str, settings: Settings) -> str | Path:
    """A `live/students/<id>` ref as the folder under the state folder; any other ref unchanged."""
    return settings.state_dir / ref if ref.startswith(LIVE_STUDENTS) else ref


def _refuse_remote_code(config_dict: dict, where: str) -> None:
    if config_dict.get("auto_map") or config_dict.get("trust_remote_code"):
        raise ModelLoadError(f"{where} asks to run its own code (auto_map in config.json); remote code is never run "
                             f"here.")


def _check_hub_id(repo_id: str) -> None:
    if not _HUB_ID.match(repo_id):
        raise ModelLoadError(f"'{repo_id[:80]}' is not a valid Hugging Face model id (expected owner/name).")


def check_spec(spec: ModelSpec, settings: Settings | None = None) -> None:
    """Refuse, in one sentence, a custom model that could never load: an invalid Hub id, a folder that is not
    allowed. Cheap: nothing is loaded or downloaded."""
    if spec.source == "local":
        check_local_folder(spec.ref, settings)
    elif spec.source == "hub":
        _check_hub_id(spec.ref)


def check_loadable(spec: ModelSpec, settings: Settings | None = None) -> None:
    """check_spec, and for a Hub id whether it loads now: the Hub reachable, or its weights in the local cache. Cheap:
    the reachability probe is cached and nothing is downloaded. ModelLoadError says why not, in one sentence."""
    check_spec(spec, settings)
    if spec.source == "hub":
        _hub_folder_or_id(spec.ref)


def _hub_folder_or_id(repo_id: str) -> tuple[str, bool]:
    """The Hub id itself when online, else its local-cache snapshot; raise fast when neither works.
    Online always goes through the id, cached or not: weights from a conversion PR revision are cached
    under that revision, not in main's snapshot folder."""
    _check_hub_id(repo_id)
    if hub_reachable():
        return repo_id, False
    cached = try_to_load_from_cache(repo_id, "config.json")
    if isinstance(cached, str):
        if _weight_files(Path(cached).parent):
            return str(Path(cached).parent), True
        # transformers caches a conversion PR's safetensors under that PR's revision, which a folder load cannot see.
        raise ModelLoadError(
            f"The Hugging Face Hub is unreachable and the local cache has no weights from {repo_id}'s main branch "
            "(weights from a safetensors conversion pull request load only online): use the pocket pair or a local "
            "folder."
        )
    raise ModelLoadError(
        f"The Hugging Face Hub is unreachable and {repo_id} is not in the local cache: "
        "use the pocket pair or a local folder."
    )


def _weight_files(folder: Path) -> list[Path]:
    """The top-level files from_pretrained would read: safetensors (or their index) when there are any, else
    pytorch_model*.bin (or its index)."""
    return (sorted([*folder.glob("*.safetensors"), *folder.glob("*.safetensors.index.json")])
            or sorted(folder.glob("pytorch_model*.bin*")))


def _from_pretrained(source: str, revision: str | None, attn_implementation: str) -> tuple[PreTrainedModel, str]:
    """Safetensors first: for a Hub id whose main branch has none, transformers itself looks for the
    conversion bot's PR revision (refs/pr/N). Only where no safetensors exist at all are pickle weights
    read, and then only with weights_only=True. Returns the model and its weights note."""
    kwargs = {
        "revision": revision,
        "trust_remote_code": False,
        "dtype": torch.float32,
        "attn_implementation": attn_implementation,
    }
    try:
        return AutoModelForSequenceClassification.from_pretrained(source, use_safetensors=True, **kwargs), ""
    except OSError:
        # Some other failure with safetensors present must not quietly fall back to pickle weights.
        if any(has_file(source, name, revision=revision) for name in (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME)):
            raise
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            source, use_safetensors=False, weights_only=True, **kwargs
        )
    except pickle.UnpicklingError as exc:  # torch's own message suggests loading it unsafely: not ours to offer
        raise OSError(
            "its pickle weights hold more than plain tensors, so torch's weights_only loader refused them."
        ) from exc
    return model, PICKLE_NOTE


def _weights_fingerprint(folder: Path, roots: tuple[Path, ...]) -> tuple[str, int]:
    """Hash of every weights file, the shards an index names included; each opened so that it cannot block, and
    read only if it is a regular file (vetting checked the names; this checks what is opened)."""
    sharded = [folder / name for name, _ in named_files(folder, roots) if Path(name).suffix in WEIGHT_SUFFIXES]
    files = sorted({*_weight_files(folder), *sharded})
    digest, size = hashlib.sha256(), 0
    for f in files:
        fd = os.open(f, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise FolderRefused(f"{shown(f, roots)} is not a regular file (a pipe, device or socket); a model "
                                    f"folder holds only files.")
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                digest.update(chunk)
            size += info.st_size
    return digest.hexdigest()[:16], size


ARCHITECTURE_FINGERPRINTS = {"teacher": "bert-base-uncased architecture, seed 0",
                             "student": "distilbert-base-uncased architecture, seed 0"}


def _architecture_model(role: str, attn: str) -> tuple[PreTrainedModel, str]:
    # Real-size configs with random weights time exactly like the real checkpoints.
    torch.manual_seed(0)
    if role == "teacher":
        config = BertConfig(num_labels=2, attn_implementation=attn)
        return BertForSequenceClassification(config), ARCHITECTURE_FINGERPRINTS["teacher"]
    config = DistilBertConfig(num_labels=2, attn_implementation=attn)
    return DistilBertForSequenceClassification(config), ARCHITECTURE_FINGERPRINTS["student"]


@dataclass(frozen=True)
class _Located:
    source: str  # what from_pretrained reads: a folder, or the Hub id at `revision`
    fingerprint: str
    size: int
    revision: Any = None


def _locate(spec: ModelSpec, settings: Settings) -> _Located:
    """Where a (non-architecture) model's files are, vetted, and the identity of its weights: without loading them."""
    roots: tuple[Path, ...] = ()
    if spec.source == "local":
        folder = check_local_folder(spec.ref, settings)  # vetted there
        roots = settings.local_roots
        _refuse_remote_code(read_config(folder, roots), shown(folder, roots))
    elif spec.source == "pocket":
        folder, roots = POCKET_DIR / spec.ref, (POCKET_DIR,)
        if not (folder / "config.json").is_file():
            raise ModelLoadError(f"The pocket {spec.ref} is missing from {shown(folder)}: run `python -m "
                                 f"benchmarks distill`.")
        _refuse_remote_code(_vet(folder, roots, settings), shown(folder))
    else:
        where, cached = _hub_folder_or_id(spec.ref)
        folder = Path(where)
        if cached:  # a snapshot's files are links into its repository's blobs/: that folder is the root
            roots = (folder.parent.parent,)
            _refuse_remote_code(_vet(folder, roots, settings), spec.ref)
    if spec.source != "hub" or folder.is_dir():
        fingerprint, size = _weights_fingerprint(folder, roots)
        # a cache snapshot is named after its commit: the same key as online
        return _Located(str(folder), folder.name if spec.source == "hub" and cached else fingerprint, size)
    revision = resolve_revision(spec.ref)  # one commit for config, tokenizer and weights
    config = AutoConfig.from_pretrained(spec.ref, revision=revision, trust_remote_code=False).to_dict()
    _refuse_remote_code(config, spec.ref)
    check_config_size(config, spec.ref, settings.max_params_m * 1_000_000)
    return _Located(spec.ref, revision.resolved, 0, revision)


def _load_errors(spec: ModelSpec, settings: Settings):
    """Whatever a damaged folder makes transformers or safetensors raise, as one ModelLoadError sentence."""

    @contextlib.contextmanager
    def guard():
        try:
            yield
        except ModelLoadError:
            raise
        except FolderRefused as exc:
            raise ModelLoadError(str(exc)) from None
        except Exception as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(
                f"Could not load {spec.display_name}: {scrub(first_line, settings.model_roots)[:300]}"
            ) from exc

    return guard()


def _check_source(spec: ModelSpec, settings: Settings) -> None:
    if spec.source not in settings.allowed_sources:
        raise ModelLoadError(f"Model source '{spec.source}' is switched off on this server (KD_ALLOWED_SOURCES).")


def model_fingerprint(spec: ModelSpec, settings: Settings | None = None) -> str:
    """The identity of a model's weights (the results cache's key), as load_model would report it, without loading
    the model: a file hash, a Hub commit, or the architecture's fixed seed."""
    settings = settings or load_settings()
    _check_source(spec, settings)
    if spec.source == "architecture":
        return ARCHITECTURE_FINGERPRINTS[spec.role]
    with _load_errors(spec, settings):
        return _locate(spec, settings).fingerprint


def load_model(
    spec: ModelSpec,
    device: str | torch.device = "cpu",
    attn_implementation: str = "sdpa",
    settings: Settings | None = None,
) -> LoadedModel:
    """Load one model in fp32, in eval mode, on `device`. Errors come out as ModelLoadError."""
    settings = settings or load_settings()
    started = time.perf_counter()
    _check_source(spec, settings)
    with _load_errors(spec, settings):
        if spec.source == "architecture":
            tokenizer = AutoTokenizer.from_pretrained(POCKET_DIR / "teacher")  # same uncased 30,522 vocab
            model, fingerprint = _architecture_model(spec.role, attn_implementation)
            size, weights_note = 0, ""
        else:
            found = _locate(spec, settings)
            fingerprint, size = found.fingerprint, found.size
            tokenizer = AutoTokenizer.from_pretrained(found.source, revision=found.revision, trust_remote_code=False)
            model, weights_note = _from_pretrained(found.source, found.revision, attn_implementation)
    try:
        labels, note = canonical_labels(model.config.id2label)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"Could not read the labels of {spec.display_name} (id2label in config.json).") from exc
    model.eval().to(device)
    # benchmarks/loadtest/server.py counts these lines to check each model loads once per server process.
    log.info(
        "loaded %s:%s (%s, %s) in %.2f s",
        spec.source,
        spec.ref,
        attn_implementation,
        device,
        time.perf_counter() - started,
    )
    return LoadedModel(spec, model, tokenizer, labels, note, fingerprint, size, attn_implementation, weights_note)


def canonical_spec(spec: ModelSpec, settings: Settings | None = None) -> ModelSpec:
    """One name per model, so that every spelling of it shares one load: a local folder by its real path (the
    bundled pocket folders as the pocket source, where that is allowed); anything else, or a folder that will be
    refused anyway, as it is. Never shown: the visitor's own spelling stays in the sidebar and the link."""
    settings = settings or load_settings()
    if spec.source != "local":
        return spec
    try:
        folder = resolve_folder(str(live_student_path(spec.ref, settings)), settings.local_roots)
    except FolderRefused:
        return spec  # the load refuses it, in the same words for every spelling
    if "pocket" in settings.allowed_sources:
        for name in ("teacher", "student"):
            if folder == (POCKET_DIR / name).resolve():
                return ModelSpec("pocket", name, spec.role)
    return ModelSpec("local", str(folder), spec.role)


@dataclass(frozen=True)
class LoadedPair:
    spec: PairSpec
    teacher: LoadedModel
    student: LoadedModel

    @property
    def label_note(self) -> str:
        return f"teacher: {self.teacher.label_note}; student: {self.student.label_note}"

    @property
    def weights_notes(self) -> list[str]:
        """'Teacher: …' / 'Student: …' for each model whose weights were not safetensors."""
        return [f"{m.spec.role.capitalize()}: {m.weights_note}" for m in (self.teacher, self.student) if m.weights_note]


def load_pair(pair: PairSpec, device: str | torch.device = "cpu", attn_implementation: str = "sdpa") -> LoadedPair:
    settings = load_settings()
    return LoadedPair(
        pair,
        load_model(pair.teacher, device, attn_implementation, settings),
        load_model(pair.student, device, attn_implementation, settings),
    )
