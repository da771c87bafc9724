"""Several app processes behind one address: a TCP balancer for a class too big for one Streamlit process.

    python -m benchmarks.loadtest.balancer --port 8501 --processes 2

Starts N `streamlit run dashboard/app.py` processes on free loopback ports (one log each) and hands each incoming
connection to the next live one in turn. A Streamlit session is one websocket, so a visitor stays on one process for
as long as the tab is open; a reconnect may land on another process and start a fresh session there. The processes
share the state folder (KD_STATE_DIR) and the results database, which is where jobs live: a benchmark run or a
live-distillation job started from one process is seen by the others. Each process loads a model once.
No nginx needed; for a real deployment any TCP or websocket-aware proxy does the same job.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.loadtest.server import free_port, start_server, wait_healthy

MAX_PROCESSES = 8
CHUNK = 1 << 16


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class Balancer:
    """Round-robin over backend ports on 127.0.0.1, one whole connection at a time; a backend that refuses is
    skipped for that connection."""

    def __init__(self, ports: list[int]):
        self.ports = ports
        self._turn = itertools.cycle(range(len(ports)))
        self.handled = [0] * len(ports)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for _ in self.ports:
            i = next(self._turn)
            try:
                streams = await asyncio.open_connection("127.0.0.1", self.ports[i])
            except OSError:
                continue
            self.handled[i] += 1
            return streams
        return None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend = await self._connect()
        if backend is None:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, backend[1]), _pipe(backend[0], writer))

    async def serve(self, port: int, ready: asyncio.Event | None = None) -> None:
        server = await asyncio.start_server(self.handle, "127.0.0.1", port)
        if ready is not None:
            ready.set()
        async with server:
            await server.serve_forever()


def start_processes(n: int, log_dir: Path, env: dict[str, str]) -> list[tuple[int, subprocess.Popen]]:
    """N app processes on free loopback ports, healthy before this returns; their logs are log_dir/app-<i>.log."""
    if not 1 <= n <= MAX_PROCESSES:
        raise ValueError(f"processes must be 1..{MAX_PROCESSES}")
    log_dir.mkdir(parents=True, exist_ok=True)
    started = []
    for i in range(n):
        port = free_port()
        started.append((port, start_server(port, log_dir / f"app-{i}.log", env)))
    for port, _ in started:
        wait_healthy(f"http://127.0.0.1:{port}")
    return started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.loadtest.balancer", description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8501, help="the one address visitors use, on 127.0.0.1")
    ap.add_argument("--processes", type=int, default=2, help=f"app processes behind it (1..{MAX_PROCESSES})")
    ap.add_argument("--log-dir", type=Path, help="where each process writes app-<i>.log (default: a temp folder)")
    args = ap.parse_args(argv)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="kd-balancer-"))
    try:
        processes = start_processes(args.processes, log_dir, {"HF_HUB_OFFLINE": "1", **os.environ})
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"http://127.0.0.1:{args.port} -> " + ", ".join(f"127.0.0.1:{p}" for p, _ in processes)
          + f" (logs in {log_dir})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so the finally below stops the processes
    try:
        asyncio.run(Balancer([p for p, _ in processes]).serve(args.port))
    except KeyboardInterrupt:
        pass
    finally:
        for _, proc in processes:
            proc.terminate()
        for _, proc in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
