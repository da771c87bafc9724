"""Real servers for the tests, started from scratch and stopped at the end: a throwaway PostgreSQL cluster (Debian's
`postgresql`, run as a non-root user on a unix socket in a temp folder, so nothing listens on a network port)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

PG_USER = "postgres"  # Debian's package creates it; the server refuses to run as root


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", PG_USER, "--", *argv]


class PostgresServer:
    """initdb into a temp folder, pg_ctl start on a unix socket there; `url(db)` names a fresh database."""

    def __init__(self) -> None:
        bin_dir = pg_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="kd-pg-"))
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.data = self.root / "data"
        self.port = 5440  # only names the socket file (.s.PGSQL.5440) in our own folder: no TCP listener
        run = dict(check=True, capture_output=True, timeout=120)
        subprocess.run(_as_server_user([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", PG_USER,
                                        "--no-sync"]), **run)
        options = f"-k {self.root} -p {self.port} -c listen_addresses='' -c fsync=off -c max_connections=200"
        subprocess.run(_as_server_user([str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                                        str(self.root / "log"), "-w", "start"]), **run)

    def psql(self, sql: str, db: str = "postgres") -> None:
        subprocess.run(_as_server_user([str(self.bin / "psql"), "-h", str(self.root), "-p", str(self.port), "-U",
                                        PG_USER, "-d", db, "-v", "ON_ERROR_STOP=1", "-qc", sql]),
                       check=True, capture_output=True, timeout=60)

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@/{db}?host={self.root}&port={self.port}"

    def fresh_database(self) -> str:
        name = f"kd_{uuid.uuid4().hex[:12]}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(_as_server_user([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server for the session (each test takes its own database)."""
    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs it as root: apt-get install postgresql)")
    server = PostgresServer()
    yield server
    server.stop()
