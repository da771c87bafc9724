"""The results cache: an embedded sqlite database of benchmark records, keyed by hardware, software,
model identity, variant and settings (results.BenchmarkConfig.key), so nothing is measured twice.

Safety: WAL journal and one transaction per write, so concurrent writers wait instead of corrupting
and a killed run leaves no partial rows; an unreadable file is moved aside (never deleted) and rebuilt.
Export/import moves records between machines as JSON (a GPU box's results beside this one's).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

from benchmarks.core.persist import write_atomically
from benchmarks.core.settings import DATA_DIR
from benchmarks.harness.results import BenchmarkResult, Record, record_from_dict, record_to_json

REFERENCE_DIR = DATA_DIR / "reference"
EXPORT_FORMAT = "kd-benchmarks-export"
EXPORT_VERSION = 1
STORE_FORMAT = "kd-benchmarks-store-1"
_log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,          -- model | peak
    pair TEXT NOT NULL DEFAULT '',
    hardware TEXT NOT NULL,      -- HardwareInfo.fingerprint
    software TEXT NOT NULL,      -- SoftwareInfo.fingerprint
    origin TEXT NOT NULL,        -- measured | reference | imported: <file>
    stored_at TEXT NOT NULL,
    payload TEXT NOT NULL        -- the record as JSON
);
CREATE INDEX IF NOT EXISTS records_pair ON records (kind, pair);
"""


@dataclass(frozen=True)
class StoredRecord:
    record: Record
    origin: str
    stored_at: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise the open-check-recover step between processes (POSIX advisory lock)."""
    try:
        import fcntl
    except ImportError:  # Windows: sqlite's own locking still protects the data
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class ResultStore:
    """One sqlite file. Every call opens its own connection, so an instance is safe to share between
    threads (Streamlit sessions) and processes (a background run writing while the page reads)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.recovered: str | None = None  # set when a corrupt file was moved aside; show it to the user
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.path.with_name(self.path.name + ".lock")):
            try:
                self._create_or_check()
            except sqlite3.DatabaseError as exc:
                aside = self._set_aside()
                self.recovered = (
                    f"The results cache {self.path} could not be read ({exc}); it was moved to {aside.name} "
                    "and a new, empty cache was started."
                )
                self._create_or_check()

    # --- opening, checking, recovering ---------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; every write below opens its own.
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 60000")
        return conn

    def _create_or_check(self) -> None:
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode = WAL")  # readers never block the writer, and vice versa
            status = conn.execute("PRAGMA quick_check").fetchone()[0]
            if status != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {status}")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "meta" not in tables:
                raise sqlite3.DatabaseError(f"not a results cache (tables: {', '.join(sorted(tables))})")
            conn.executescript(_SCHEMA)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (STORE_FORMAT,))
            found = conn.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()[0]
            if found != STORE_FORMAT:
                raise sqlite3.DatabaseError(f"unsupported cache format {found!r}")
        finally:
            conn.close()

    def _set_aside(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
        return aside

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front: a second writer waits (busy_timeout) instead of
        failing half-way; an exception or a killed process means nothing of the transaction is kept."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    # --- writing ---------------------------------------------------------------------------------

    def put_many(self, records: Iterable[Record], origin: str = "measured", replace: bool = True) -> int:
        """Write records in one transaction; with replace=False existing keys are kept. Returns rows written."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        written = 0
        with self._transaction() as conn:
            for rec in records:
                pair = rec.config.pair if isinstance(rec, BenchmarkResult) else ""
                cur = conn.execute(
                    f"{verb} INTO records (key, kind, pair, hardware, software, origin, stored_at, payload) VALUES (?, "
                    f"?, ?, ?, ?, ?, ?, ?)",
                    (
                        rec.key,
                        rec.kind,
                        pair,
                        rec.hardware.fingerprint,
                        rec.software.fingerprint,
                        origin,
                        _now(),
                        record_to_json(rec),
                    ),
                )
                written += cur.rowcount
        return written

    def put(self, record: Record, origin: str = "measured") -> None:
        self.put_many([record], origin)

    # --- reading ---------------------------------------------------------------------------------

    def _rows(self, where: str = "", params: tuple = ()) -> list[StoredRecord]:
        conn = self._connect()
        try:
            rows = conn.execute(
                f"SELECT payload, origin, stored_at FROM records {where} ORDER BY stored_at, key", params
            ).fetchall()
        finally:
            conn.close()
        out = []
        for payload, origin, stored_at in rows:
            try:
                out.append(StoredRecord(record_from_dict(json.loads(payload)), origin, stored_at))
            except ValueError as exc:  # a row from a newer schema: skip it, keep the rest usable
                _log.warning("skipping an unreadable record in %s: %s", self.path, exc)
        return out

    def get(self, key: str) -> Record | None:
        rows = self._rows("WHERE key = ?", (key,))
        return rows[0].record if rows else None

    def keys(self) -> set[str]:
        conn = self._connect()
        try:
            return {r[0] for r in conn.execute("SELECT key FROM records")}
        finally:
            conn.close()

    def records(self, kind: str | None = None, pair: str | None = None) -> list[StoredRecord]:
        clauses, params = [], []
        if kind:
            clauses.append("kind = ?")
            params.append(kind)
        if pair is not None:
            clauses.append("pair = ?")
            params.append(pair)
        return self._rows(("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(params))

    def version(self) -> tuple[int, str]:
        """Changes whenever rows are added or replaced: a cheap cache key for readers."""
        conn = self._connect()
        try:
            n, last = conn.execute("SELECT count(*), coalesce(max(stored_at), '') FROM records").fetchone()
        finally:
            conn.close()
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
