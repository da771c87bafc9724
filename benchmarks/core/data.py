"""Sentence sets: labelled SST-2 from a local TSV (offline) or the Hub (online), user files, the example
sentences of data/samples.txt and the shipped unlabelled SST-2 train sentences."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from benchmarks.core.hub import hub_reachable
from benchmarks.core.paths import shown
from benchmarks.core.settings import DATA_DIR

# SST-2 dev (872 sentences) ships with the product (see data/sst2/README.md); the 67k train split does not:
# it comes from --data / $SST2_DIR or, online, from `datasets`.
SHIPPED_SST2_DIR = DATA_DIR / "sst2"
SAMPLES = DATA_DIR / "samples.txt"
TRAIN_SENTENCES = SHIPPED_SST2_DIR / "train-sentences.txt"  # 6,000 unlabelled train sentences (see its README)
SPLIT_FILES = {"train": "train.tsv", "validation": "dev.tsv", "dev": "dev.tsv"}
TEXT_COLUMNS = ("sentence", "text", "review", "content")


class DataUnavailable(RuntimeError):
    """The requested data set is neither on disk nor reachable; the message says what to do."""


@dataclass(frozen=True)
class LabelledTexts:
    texts: tuple[str, ...]
    labels: tuple[int, ...]
    source: str

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError("texts and labels differ in length")

    def __len__(self) -> int:
        return len(self.texts)

    def head(self, n: int) -> "LabelledTexts":
        return LabelledTexts(self.texts[:n], self.labels[:n], f"{self.source} (first {n})")

    @property
    def fingerprint(self) -> str:
        """Identity by content (texts and labels), not by file name: "<n>:<hash>". Part of stored cache keys,
        so its encoding (json.dumps defaults) must never change."""
        digest = hashlib.sha256(json.dumps([self.texts, self.labels]).encode())
        return f"{len(self)}:{digest.hexdigest()[:16]}"


def sample_sentences(n: int | None = None) -> list[str]:
    """The first `n` example sentences of data/samples.txt (all when n is None); '#' lines are comments."""
    lines = SAMPLES.read_text(encoding="utf-8").splitlines()
    sentences = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return sentences if n is None else sentences[:n]


def read_sentences(path: Path = TRAIN_SENTENCES) -> tuple[str, ...]:
    """One sentence per non-blank line: by default the shipped SST-2 train sentences, never the dev set that
    accuracy is measured on (live distillation trains on them; static quantization calibrates on them)."""
    return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def sst2_dir(split: str = "validation") -> Path | None:
    """The folder to read `split` from: $SST2_DIR when set, else the shipped data/sst2 (dev only); None when
    the split is not on disk and must come from the Hub."""
    env = os.environ.get("SST2_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    return SHIPPED_SST2_DIR if SPLIT_FILES[split] == "dev.tsv" else None


def load_sst2(split: str = "validation", data_dir: str | Path | None = None) -> LabelledTexts:
    """SST-2 `split` ("train" or "validation"/"dev") from `data_dir`, $SST2_DIR or data/sst2, else the Hub."""
    if split not in SPLIT_FILES:
        raise ValueError(f"unknown split {split!r}; use one of {sorted(SPLIT_FILES)}")
    folder = Path(data_dir) if data_dir else sst2_dir(split)
    if folder is not None:
        path = folder / SPLIT_FILES[split]
        if not path.is_file():
            raise DataUnavailable(
                f"{path.name} is not in the SST-2 folder given by --data or SST2_DIR (expected the GLUE SST-2 {split} "
                f"TSV)."
            )
        where = "shipped in data/sst2" if folder == SHIPPED_SST2_DIR else shown(path)
        return read_labelled_file(path.read_bytes(), path.name, source=f"SST-2 {split} ({where})")
    if not hub_reachable():
        raise DataUnavailable(
            f"SST-2 {split} is not on disk and the Hugging Face Hub is unreachable: pass --data (or set SST2_DIR) "
            f"to a folder holding {SPLIT_FILES[split]}, or run online to fetch glue/sst2 with `datasets`."
        )
    import datasets  # imported late: slow, and only needed online

    hub_split = "validation" if split in ("dev", "validation") else split
    ds = datasets.load_dataset("glue", "sst2", split=hub_split)
    return LabelledTexts(tuple(ds["sentence"]), tuple(ds["label"]), f"SST-2 {hub_split} (Hub: glue/sst2)")


def read_labelled_file(
    content: bytes, name: str, source: str | None = None, max_rows: int | None = None
) -> LabelledTexts:
    """Parse a TSV/CSV with a header: a text column (sentence/text/...) and a 0/1 `label` column; at most
    `max_rows` rows (KD_MAX_UPLOAD_ROWS) and csv.field_size_limit() characters per field."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    lines = text.count("\n") + (not text.endswith("\n"))
    if max_rows is not None and lines - 1 > max_rows:  # refused before parsing: a 5 MB file can hold a million rows
        raise ValueError(f"{name} has {lines - 1:,} rows; the limit is {max_rows:,} (KD_MAX_UPLOAD_ROWS).")
    delimiter = "\t" if name.lower().endswith(".tsv") or "\t" in text.split("\n", 1)[0] else ","
    reader = csv.DictReader(
        io.StringIO(text), delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    )
    texts: list[str] = []
    labels: list[int] = []
    try:
        fields = [f.strip().lower() for f in (reader.fieldnames or [])]
        text_col = next((c for c in TEXT_COLUMNS if c in fields), None)
        if text_col is None or "label" not in fields:
            raise ValueError(
                f"{name}: needs a header with a text column ({' / '.join(TEXT_COLUMNS)}) and a 'label' column; "
                f"found {str(fields)[:200] if fields else 'no header'}."
            )
        for line_no, row in enumerate(reader, start=2):
            if max_rows is not None and len(texts) == max_rows:  # quoted line breaks: rows and lines can differ
                raise ValueError(f"{name} has more than {max_rows:,} rows; the limit is {max_rows:,} "
                                 f"(KD_MAX_UPLOAD_ROWS).")
            _add_row(row, text_col, name, line_no, texts, labels)
    except csv.Error as exc:  # a field over csv.field_size_limit(), a NUL byte
        line_no = reader.line_num + 1  # the reader has not counted the line it failed on
        if "field larger" in str(exc):
            length = len(text.split("\n", line_no)[line_no - 1])
            raise ValueError(f"{name}, line {line_no}: {length:,} characters; a field holds at most "
                             f"{csv.field_size_limit():,}.") from None
        raise ValueError(f"{name}, line {line_no}: {exc}.") from None
    if not texts:
        raise ValueError(f"{name}: no rows after the header.")
    return LabelledTexts(tuple(texts), tuple(labels), source or name)


def _add_row(row: dict, text_col: str, name: str, line_no: int, texts: list[str], labels: list[int]) -> None:
    row = {(k or "").strip().lower(): v for k, v in row.items()}
    raw_label = (row.get("label") or "").strip()
    if raw_label not in ("0", "1"):
        raise ValueError(f"{name}, line {line_no}: label must be 0 or 1, got {raw_label[:20]!r}.")
    texts.append((row.get(text_col) or "").strip())
    labels.append(int(raw_label))
