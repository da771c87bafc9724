"""The results cache: benchmark records keyed by hardware, software, model identity, variant and settings
(results.BenchmarkConfig.key), so nothing is measured twice; in the one results database (store.database: a sqlite
file by default, PostgreSQL for a team), where each key is one row and every write is one transaction.
Export/import moves records between machines with no network as JSON (a GPU box's results beside this one's).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import sqlalchemy as sa

from benchmarks.core.persist import write_atomically
from benchmarks.core.settings import DATA_DIR
from benchmarks.harness.results import BenchmarkResult, Record, record_from_dict, record_to_json
from benchmarks.store.database import Database
from benchmarks.store.schema import records as table

REFERENCE_DIR = DATA_DIR / "reference"
EXPORT_FORMAT = "kd-benchmarks-export"
EXPORT_VERSION = 1
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredRecord:
    record: Record
    origin: str
    stored_at: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ResultStore:
    """The records of one results database: a sqlite file (a path) or a server (a SQLAlchemy URL). Safe to share
    between threads (Streamlit sessions) and processes (a background run writing while the page reads)."""

    def __init__(self, target: str | Path):
        self.db = Database(target)
        self.path = self.db.path  # None on a server
        self.recovered = self.db.recovered  # set when a corrupt file was moved aside; show it to the user

    @property
    def where(self) -> str:
        return self.db.where

    # --- writing ---------------------------------------------------------------------------------

    def put_many(self, records: Iterable[Record], origin: str = "measured", replace: bool = True) -> int:
        """Write records in one transaction; with replace=False existing keys are kept. Returns rows written."""
        written = 0
        with self.db.transaction() as conn:
            for rec in records:
                row = {
                    "key": rec.key,
                    "kind": rec.kind,
                    "pair": rec.config.pair if isinstance(rec, BenchmarkResult) else "",
                    "hardware": rec.hardware.fingerprint,
                    "software": rec.software.fingerprint,
                    "origin": origin,
                    "stored_at": _now(),
                    "payload": record_to_json(rec),
                }
                written += self.db.upsert(conn, table, row, replace)
        return written

    def put(self, record: Record, origin: str = "measured") -> None:
        self.put_many([record], origin)

    # --- reading ---------------------------------------------------------------------------------

    def _rows(self, *where: sa.ColumnElement[bool]) -> list[StoredRecord]:
        query = sa.select(table.c.payload, table.c.origin, table.c.stored_at).where(*where)
        with self.db.reading() as conn:
            rows = conn.execute(query.order_by(table.c.stored_at, table.c.key)).all()
        out = []
        for payload, origin, stored_at in rows:
            try:
                out.append(StoredRecord(record_from_dict(json.loads(payload)), origin, stored_at))
            except ValueError as exc:  # a row from a newer schema: skip it, keep the rest usable
                _log.warning("skipping an unreadable record in %s: %s", self.where, exc)
        return out

    def get(self, key: str) -> Record | None:
        rows = self._rows(table.c.key == key)
        return rows[0].record if rows else None

    def keys(self) -> set[str]:
        with self.db.reading() as conn:
            return set(conn.execute(sa.select(table.c.key)).scalars())

    def records(self, kind: str | None = None, pair: str | None = None) -> list[StoredRecord]:
        clauses = []
        if kind:
            clauses.append(table.c.kind == kind)
        if pair is not None:
            clauses.append(table.c.pair == pair)
        return self._rows(*clauses)

    def version(self) -> tuple[int, str]:
        """Changes whenever rows are added or replaced: a cheap cache key for readers."""
        with self.db.reading() as conn:
            n, last = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(table.c.stored_at), ""))
                                   .select_from(table)).one()
        return int(n), str(last)

    # --- moving records between machines -----------------------------------------------------------

    def export(self, path: str | Path, keep: Callable[[StoredRecord], bool] = lambda r: True) -> int:
        """Write the kept records to a JSON file (atomically); returns how many."""
        chosen = [r for r in self.records() if keep(r)]
        hardware = sorted({r.record.hardware.label(r.record.device) for r in chosen})
        doc = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "exported_at": _now(),
            "hardware": hardware,  # for people reading the file; every record carries its own
            "records": [{"origin": r.origin, "record": r.record.to_dict()} for r in chosen],
        }
        write_atomically(Path(path), json.dumps(doc, indent=1, sort_keys=True) + "\n")
        return len(chosen)

    def import_file(self, path: str | Path, origin: str | None = None, replace: bool = False) -> tuple[int, int]:
        """Add the records of an export file; existing keys are kept unless replace. Returns (added, skipped).
        The whole file is checked before anything is written: a bad file adds nothing."""
        path = Path(path)
        records = read_export(path)
        added = self.put_many(records, origin or f"imported: {path.name}", replace=replace)
        return added, len(records) - added

    def seed(self, folder: Path = REFERENCE_DIR) -> int:
        """Import the shipped reference results (data/reference/*.json) that are not here yet."""
        return sum(self.import_file(f, origin="reference")[0] for f in sorted(Path(folder).glob("*.json")))


def reference_records(folder: Path = REFERENCE_DIR) -> list[StoredRecord]:
    """The shipped reference results read straight from their files (when no cache can be opened)."""
    return [StoredRecord(rec, "reference", "") for f in sorted(Path(folder).glob("*.json")) for rec in read_export(f)]


def read_export(path: Path) -> list[Record]:
    """Records of an export file; ValueError naming the file when it is not one."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a benchmark export (not JSON: {exc}).") from None
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise ValueError(f"{path} is not a benchmark export (expected \"format\": \"{EXPORT_FORMAT}\").")
    if doc.get("version") != EXPORT_VERSION:
        raise ValueError(f"{path} has export version {doc.get('version')!r}; this version reads {EXPORT_VERSION}.")
    records = []
    for i, entry in enumerate(doc.get("records", [])):
        try:
            records.append(record_from_dict(entry["record"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: record {i} is invalid ({exc}).") from None
    return records
