"""Protocol-level load: N simulated visitors on the Playground, speaking Streamlit's websocket protocol (wire.py),
driven by Locust. A visitor costs the generator a few milliseconds of CPU per Compare, so what is measured is the
server, not browsers sharing its cores.

Each visitor opens the Playground, then every PERIOD ± JITTER seconds sets a new sentence and presses Compare, and
records the time from the click to the end of the script run, and any exception, error box or busy notice in the
reply. Visitors start spread over one period; the first period is the ramp and is not counted. Before they start,
one Compare warms the server (model loading is not part of a visitor's answer time). Loopback only, bounded in
sessions and time.
"""

from __future__ import annotations

import itertools
import random
import re
import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace

import psutil

from benchmarks.core.data import sample_sentences
from benchmarks.loadtest.server import cpu_seconds_of, process_tree, rss_of, tree_total

WHERE = re.compile(r"(teacher in .+?, student in .+?);")  # from the Playground's conditions caption
MAX_SESSIONS = 200
MAX_SECONDS = 900
RSS_EVERY_S = 2.0


@dataclass(frozen=True)
class Answer:
    session: int
    started: float  # seconds since the measured window opened (negative: during the ramp)
    seconds: float  # click to script_finished
    error: str | None = None
    busy: bool = False
    where: str = ""  # the setups the answer says it ran in ("teacher in …, student in …")


@dataclass(frozen=True)
class ServerUse:
    """The server's processes (children included) and the generator's own process over the measured window."""

    server_cpu_s: float
    generator_cpu_s: float
    rss: tuple[tuple[float, int], ...]  # (seconds into the window, bytes)


@dataclass(frozen=True)
class ProtocolReport:
    url: str
    sessions: int
    seconds: float  # the measured window
    period: float
    jitter: float
    answers: tuple[Answer, ...]
    use: ServerUse
    cpus: int
    conditions: str = ""  # what else ran during the window, in words (e.g. "a benchmark run")
    ramp: tuple[Answer, ...] = field(default=())

    @property
    def counted(self) -> list[Answer]:
        return [a for a in self.answers if 0 <= a.started < self.seconds]

    @property
    def times(self) -> list[float]:
        return sorted(a.seconds for a in self.counted if not a.error and not a.busy)

    def percentile(self, q: float) -> float | None:
        times = self.times
        if not times:
            return None
        if len(times) == 1:
            return times[0]
        return statistics.quantiles(times, n=100, method="inclusive")[round(q * 100) - 1]

    def summary(self) -> dict:
        counted, mb = self.counted, 1 << 20
        rss = self.use.rss
        window_cpu = self.seconds * self.cpus
        return {
            "url": self.url, "sessions": self.sessions, "seconds": self.seconds, "period_s": self.period,
            "jitter_s": self.jitter, "conditions": self.conditions or "nothing else started by the load test",
            "requests": len(counted), "answers": len(self.times),
            "errors": sum(a.error is not None for a in counted), "busy": sum(a.busy for a in counted),
            "p50_s": self.percentile(0.50), "p95_s": self.percentile(0.95), "p99_s": self.percentile(0.99),
            "max_s": self.times[-1] if self.times else None,
            "answers_per_s": len(self.times) / self.seconds, "asked_per_s": self.sessions / self.period,
            "rss_start_mb": rss[0][1] / mb if rss else None, "rss_end_mb": rss[-1][1] / mb if rss else None,
            "rss_max_mb": max(b for _, b in rss) / mb if rss else None,
            "cpus": self.cpus,
            "server_cpu_share": self.use.server_cpu_s / window_cpu, "generator_cpu_share":
                self.use.generator_cpu_s / window_cpu,
            "answered_in": dict(Counter(a.where for a in counted if not a.error and not a.busy)),
            "first_errors": [a.error for a in counted if a.error][:5],
        }

    @property
    def ok(self) -> bool:
        s = self.summary()
        return s["errors"] == 0 and s["answers"] > 0

    def text(self) -> str:
        s = self.summary()

        def secs(v: float | None) -> str:
            return "–" if v is None else f"{v:.3f} s"

        lines = [
            f"Protocol load: {self.sessions} sessions, Compare every {self.period:g} ± {self.jitter:g} s, "
            f"{self.seconds:g} s measured against {self.url} ({self.cpus} CPUs; {s['conditions']})",
            f"requests {s['requests']}: {s['answers']} answered, {s['errors']} errors, {s['busy']} busy notices; "
            f"{s['answers_per_s']:.2f} answers/s of {s['asked_per_s']:.2f} asked",
            f"click to answer: p50 {secs(s['p50_s'])}, p95 {secs(s['p95_s'])}, p99 {secs(s['p99_s'])}, "
            f"max {secs(s['max_s'])}",
        ]
        if s["rss_start_mb"] is not None:
            lines.append(f"server RSS (children included): start {s['rss_start_mb']:.0f} MB, end "
                         f"{s['rss_end_mb']:.0f} MB, max {s['rss_max_mb']:.0f} MB")
        lines.append(f"CPU share of the machine: server {s['server_cpu_share']:.1%}, load generator "
                     f"{s['generator_cpu_share']:.1%}")
        lines += [f"  {n} answers ran with {where or 'no setup named'}" for where, n in s["answered_in"].items()]
        lines += [f"  error: {e}" for e in s["first_errors"]]
        lines.append("verdict: " + ("OK" if self.ok else "FAILED (errors, or no answers)"))
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"summary": self.summary(), "answers": [asdict(a) for a in self.answers]}


def listening_pids(port: int) -> list[int]:
    """The processes listening on a local TCP port (the server behind a URL)."""
    return sorted({c.pid for c in psutil.net_connections("tcp")
                   if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid})


_ENDINGS = ("", " Really.", " Honestly!", " I mean it.", " Or so I thought.", " Five stars?", " Meh.")


def varied(sentences: list[str], rng: random.Random, session: int, i: int) -> str:
    """A sample sentence, changed enough that no two consecutive inputs of a session are equal."""
    return f"{rng.choice(sentences)}{rng.choice(_ENDINGS)} (viewer {session}, take {i})"


def run(url: str, sessions: int, seconds: float, server_pids: list[int], period: float = 10.0, jitter: float = 2.0,
        timeout: float = 60.0, query: str = "", conditions: str = "") -> ProtocolReport:
    """Drive `sessions` visitors against `url` (loopback) for one ramp period plus `seconds`; report the window.
    Must run in a process of its own: Locust patches the standard library for gevent when imported."""
    if not 1 <= sessions <= MAX_SESSIONS or not 1 <= seconds <= MAX_SECONDS:
        raise ValueError(f"sessions must be 1..{MAX_SESSIONS} and seconds 1..{MAX_SECONDS}")
    import gevent
    from locust import User, task
    from locust.env import Environment

    from benchmarks.loadtest.wire import Session

    sentences, numbers = sample_sentences(), itertools.count()
    answers: list[Answer] = []  # `started` in time.monotonic() until the window's opening is known

    def record(session: int, clicked: float, took: float, error: str | None, busy: bool = False,
               where: str = "") -> None:
        answers.append(Answer(session, clicked, took, error, busy, where))

    class Visitor(User):
        def wait_time(self) -> float:  # paced: a Compare every period ± jitter, whatever the answer took
            return max(0.0, self.rng.uniform(period - jitter, period + jitter) - self.last)

        def on_start(self) -> None:
            self.index, self.take, self.last = next(numbers), 0, 0.0
            self.rng = random.Random(self.index)
            self.session = None
            self._open()

        def _open(self) -> None:
            clicked = time.monotonic()
            try:
                self.session = Session(url, query, timeout)
                problem = self.session.run().problem
            except Exception as exc:  # a refused connection is a result too
                problem = f"{type(exc).__name__}: {str(exc)[:200]}"
            if problem:
                record(self.index, clicked, time.monotonic() - clicked, f"opening the page: {problem}")
                self.session = None

        @task
        def compare(self) -> None:
            if self.session is None:
                self._open()
                return
            text = varied(sentences, self.rng, self.index, self.take)
            self.take += 1
            clicked = time.monotonic()
            try:
                reply = self.session.run({"Text": text, "Compare": True})
            except Exception as exc:  # a timeout or a closed socket: count it, then start this visitor afresh
                self.last = time.monotonic() - clicked
                record(self.index, clicked, self.last, f"{type(exc).__name__}: {str(exc)[:200]}")
                self.session = None
                return
            self.last = reply.seconds
            where = next((m[1] for t in reply.texts if (m := WHERE.search(t))), "")
            record(self.index, clicked, reply.seconds, reply.problem, reply.busy, where)

        def on_stop(self) -> None:
            if self.session is not None:
                self.session.close()

    warm = Session(url, query, timeout)  # models load on the first Compare: keep that out of every visitor's time
    warm.run()
    warm.run({"Text": "A warm-up sentence.", "Compare": True})
    warm.close()

    env = Environment(user_classes=[Visitor], stop_timeout=timeout)
    runner = env.create_local_runner()
    procs, me = process_tree(server_pids), psutil.Process()
    runner.start(sessions, spawn_rate=max(sessions / period, 1.0))
    gevent.sleep(period)  # the ramp: every visitor has started once the window opens
    opened = time.monotonic()
    procs = process_tree(server_pids)  # children started since (a background job) count from here on
    server0, me0 = tree_total(procs, cpu_seconds_of), tree_total([me], cpu_seconds_of)
    rss = [(0.0, int(tree_total(procs, rss_of)))]
    while (elapsed := time.monotonic() - opened) < seconds:
        gevent.sleep(min(RSS_EVERY_S, seconds - elapsed))
        rss.append((time.monotonic() - opened, int(tree_total(procs, rss_of))))
    use = ServerUse(tree_total(procs, cpu_seconds_of) - server0, tree_total([me], cpu_seconds_of) - me0, tuple(rss))
    runner.quit()  # visitors in the middle of a Compare finish it (stop_timeout): slow answers are not cut off
    answers = [replace(a, started=a.started - opened) for a in answers]
    counted = tuple(a for a in answers if a.started >= 0)
    ramp = tuple(a for a in answers if a.started < 0)
    return ProtocolReport(url, sessions, seconds, period, jitter, counted, use, psutil.cpu_count() or 1, conditions,
                          ramp)
