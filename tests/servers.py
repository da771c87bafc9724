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


RAY_HEAD_PORT = 6390
# A loopback address Ray keeps: Ray 2.60 replaces 127.0.0.1 (and "localhost") by the address of the interface that
# routes outward (services.resolve_ip_for_localhost), while 127.0.0.2 is loopback too and used as given.
RAY_NODE_IP = "127.0.0.2"
# Every port a Ray node opens, inside this project's ranges (6390-6399, 10000-10999), one set per node.
RAY_NODE_PORTS = [
    ["--node-manager-port=6391", "--object-manager-port=6392",
     "--dashboard-agent-listen-port=6394", "--dashboard-agent-grpc-port=6395", "--metrics-export-port=6396",
     "--runtime-env-agent-port=6397", "--min-worker-port=10000", "--max-worker-port=10499"],
    ["--node-manager-port=6398", "--object-manager-port=6399", "--dashboard-agent-listen-port=10990",
     "--dashboard-agent-grpc-port=10991", "--metrics-export-port=10992", "--runtime-env-agent-port=10993",
     "--min-worker-port=10500", "--max-worker-port=10980"],
]


class RayCluster:
    """Two Ray nodes on this machine, both on a loopback address (RAY_NODE_IP), joined with `python -m benchmarks join`
    (1 and 2 CPUs: two hardware identities, since a machine's identity includes the threads its runs use). Each node
    has its own state folder and its own Ray temp folder; stop() ends this cluster's processes only (never `ray stop`,
    which ends every Ray process of the user)."""

    def __init__(self, db_url: str, env: dict[str, str], root: Path):
        import sys

        self.root, self.address = root, f"{RAY_NODE_IP}:{RAY_HEAD_PORT}"
        self.temp = Path(tempfile.mkdtemp(prefix="kdray", dir="/tmp"))  # Ray's socket paths must stay short
        self.env = {**env, "KD_DATABASE_URL": db_url, "RAY_USAGE_STATS_ENABLED": "0"}
        base = [sys.executable, "-m", "benchmarks", "join", f"--node-ip-address={RAY_NODE_IP}"]
        for i, (cpus, ports) in enumerate(zip((1, 2), RAY_NODE_PORTS)):
            where = ["--head", f"--port={RAY_HEAD_PORT}"] if i == 0 else [f"--address={self.address}"]
            node_env = {**self.env, "KD_STATE_DIR": str(root / f"node{i}")}
            joined = subprocess.run([*base, *where, f"--num-cpus={cpus}", "--", f"--temp-dir={self.temp}", *ports],
                                    env=node_env, capture_output=True, text=True, timeout=180)
            if joined.returncode:  # a half-started cluster would hold its ports for the next test
                self.stop()
                raise RuntimeError(f"ray node {i} did not start:\n{joined.stdout}\n{joined.stderr}")

    def pids(self) -> list[int]:
        """The processes of this cluster: those whose command line names its temp folder, and their children."""
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if str(self.temp).encode() in cmdline.read_bytes():
                    found.append(int(cmdline.parent.name))
            except OSError:
                continue
        return found

    def stop(self) -> None:
        import signal

        for pid in self.pids():
            try:
                os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        shutil.rmtree(self.temp, ignore_errors=True)
