"""Opening the results database: a sqlite file (the embedded default, nothing to start) or PostgreSQL
(KD_DATABASE_URL=postgresql+psycopg://…, shared by every process on every machine), migrated to the one schema.

sqlite safety: WAL journal, and writes take the lock up front (BEGIN IMMEDIATE), so concurrent writers wait instead
of failing half-way; an unreadable file is moved aside (never deleted) and rebuilt. On both backends a write is one
transaction, so a killed writer leaves nothing partial.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from filelock import FileLock
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from benchmarks.core.paths import shown

STORE_FORMAT = "kd-benchmarks-store-1"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASE_REVISION = "0001"  # what a sqlite file written before Alembic holds
CLUSTER_EXTRA = "pip install 'kd-dashboard[cluster]'"


class StoreUnavailable(RuntimeError):
    """The database cannot be used (a driver missing, a server unreachable, a foreign file): one sentence for people."""


class CorruptStore(RuntimeError):
    """A sqlite file that is not (or no longer) a readable results cache."""


def is_url(target: str | Path) -> bool:
    return isinstance(target, str) and "://" in target


def shown_target(target: str | Path) -> str:
    """The database as anyone may see it: the file relative to the project, or the server's database and host
    (never the password)."""
    if not is_url(target):
        return shown(target)
    url = sa.make_url(str(target))
    return f"{url.get_backend_name()} database {url.database} on {url.host or 'a local socket'}"


class Database:
    """One engine per database. Connections come from its pool, so an instance is safe to share between threads
    (Streamlit sessions); every process (a background job, a worker on another machine) opens its own."""

    def __init__(self, target: str | Path):
        self.path: Path | None = None if is_url(target) else Path(target)
        self.url = sa.make_url(str(target)) if is_url(target) else sa.make_url(f"sqlite:///{Path(target)}")
        self.recovered: str | None = None  # set when a corrupt file was moved aside; show it to the user
        if self.path is None:
            self.engine = _server_engine(self.url)
            self._open()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock"):  # one process at a time checks, recovers and migrates the file
            self.engine = _sqlite_engine(self.path)
            try:
                self._open()
            except (CorruptStore, sa.exc.DatabaseError, sqlite3.DatabaseError) as exc:
                self.engine.dispose()
                aside = self._set_aside()
                why = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
                self.recovered = (
                    f"The results cache {self.path} could not be read ({why}); it was moved to {aside.name} "
                    "and a new, empty cache was started."
                )
                self.engine = _sqlite_engine(self.path)
                try:
                    self._open()
                except sa.exc.DBAPIError as again:  # not the file: the folder (read-only, full disk)
                    raise StoreUnavailable(f"The results cache {self.path} cannot be opened: "
                                           f"{_first_line(again.orig)}") from None

    @property
    def where(self) -> str:
        """The database as people may see it: the file, or the server and database without the password."""
        return str(self.path) if self.path is not None else shown_target(self.url.render_as_string())

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # --- opening and migrating -------------------------------------------------------------------

    def _open(self) -> None:
        try:
            with self._raw_transaction() as conn:
                if self.path is not None:
                    _check_sqlite(conn)
                migrate(conn)
                conn.execute(_insert(conn, _meta_table()).values(name="format", value=STORE_FORMAT)
                             .on_conflict_do_nothing(index_elements=["name"]))
                found = conn.execute(sa.text("SELECT value FROM meta WHERE name = 'format'")).scalar_one()
        except sa.exc.OperationalError as exc:
            if self.path is not None:
                raise
            raise StoreUnavailable(f"The results database ({self.where}) cannot be reached: "
                                   f"{_first_line(exc.orig)}") from None
        if found != STORE_FORMAT:
            raise CorruptStore(f"unsupported cache format {found!r}")

    def _set_aside(self) -> Path:
        assert self.path is not None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
        return aside

    # --- using it ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction: committed at the end, rolled back on any exception; on sqlite the write lock is
        taken up front, so a second writer waits (busy timeout) instead of failing half-way."""
        with self._unavailable(), self._raw_transaction() as conn:
            yield conn

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        with self._unavailable(), self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def _raw_transaction(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(kd_begin="BEGIN IMMEDIATE")
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def _unavailable(self) -> Iterator[None]:
        """A server gone (or a file gone bad) after opening: one sentence for the page, not a driver traceback."""
        try:
            yield
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"The results database ({self.where}) cannot be reached: "
                                   f"{_first_line(exc.orig)}") from None

    def upsert(self, conn: Connection, table: sa.Table, row: dict[str, Any], replace: bool) -> int:
        """Insert `row`, or on a key already present replace it (replace) or keep the old one. Returns rows written."""
        stmt = _insert(conn, table).values(**row)
        keys = [c.name for c in table.primary_key.columns]
        if replace:
            stmt = stmt.on_conflict_do_update(
                index_elements=keys, set_={k: stmt.excluded[k] for k in row if k not in keys}
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        return conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount


def _meta_table() -> sa.Table:
    from benchmarks.store.schema import meta

    return meta


def _insert(conn: Connection, table: sa.Table):
    """The dialect's INSERT, which knows ON CONFLICT (sqlite 3.24+ and PostgreSQL share the syntax)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _first_line(exc: BaseException | None) -> str:
    """The driver's first line, as the end of a sentence."""
    line = str(exc).strip().splitlines()[0] if exc is not None and str(exc).strip() else type(exc).__name__
    return line.rstrip(".") + "."


def _sqlite_engine(path: Path) -> Engine:
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # pysqlite's own BEGIN handling off: the "begin" hook below decides
        dbapi_conn.execute("PRAGMA busy_timeout = 60000")
        dbapi_conn.execute("PRAGMA journal_mode = WAL")  # readers never block the writer, and vice versa

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("kd_begin", "BEGIN"))

    return engine


def _server_engine(url: sa.URL) -> Engine:
    try:
        return sa.create_engine(url, pool_pre_ping=True, connect_args=_connect_args(url))
    except ModuleNotFoundError as exc:
        raise StoreUnavailable(
            f"KD_DATABASE_URL names {url.get_backend_name()}, whose driver ({exc.name}) is not installed: "
            f"{CLUSTER_EXTRA}."
        ) from None
    except sa.exc.ArgumentError as exc:
        raise StoreUnavailable(f"KD_DATABASE_URL is not a database URL this app reads ({exc}).") from None


def _connect_args(url: sa.URL) -> dict[str, Any]:
    # A page waits at most a few seconds for an unreachable server, then says so.
    return {"connect_timeout": 5} if url.get_backend_name() == "postgresql" else {}


def _check_sqlite(conn: Connection) -> None:
    status = conn.exec_driver_sql("PRAGMA quick_check").scalar_one()
    if status != "ok":
        raise CorruptStore(f"integrity check failed: {status}")
    tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and "meta" not in tables:
        raise CorruptStore(f"not a results cache (tables: {', '.join(sorted(tables))})")


def migrate(conn: Connection) -> None:
    """Bring the schema to the newest revision inside the caller's transaction. A file written before Alembic (its
    tables, no version) is stamped as the first revision first, so it upgrades in place with nothing lost."""
    from alembic import command
    from alembic.config import Config

    if conn.dialect.name == "postgresql":  # two processes starting at once: one migrates, the other then sees it done
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(2024061924)"))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    tables = set(sa.inspect(conn).get_table_names())
    if "records" in tables and "alembic_version" not in tables:
        command.stamp(cfg, BASE_REVISION)
    command.upgrade(cfg, "head")


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()
