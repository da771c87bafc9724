"""Browser smoke test: a few concurrent headless-Chromium sessions of the Playground against the real app.

    python -m benchmarks.loadtest --browser --sessions 3 --seconds 60

It checks the real browser path (page, widgets, rendered answer). Its timings are not the server's: on a shared
machine the browsers take most of the CPU. For load figures use the protocol-level generator (protocol.py).

Starts `streamlit run dashboard/app.py` on a free localhost port (or targets --url, localhost only),
opens one headless Chromium with one isolated context per session, and has every session loop: fill
the Text box with a varied sample sentence, click Compare, wait for that input's answer. Reports the
p50/p95 time from click to rendered answer, every error, the server's resident memory (children
included) over time, and how often each model was loaded, read from the server's log lines
"loaded <model> in <s> s" (benchmarks.core.models.load_model). Bounded: at most MAX_SESSIONS sessions for at
most MAX_SECONDS, each request at most --timeout seconds.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmarks.core.data import sample_sentences
from benchmarks.loadtest.protocol import varied
from benchmarks.loadtest.server import count_loads, free_port, start_server, tree_rss, wait_healthy

MAX_SESSIONS = 50
MAX_SECONDS = 900
RSS_EVERY_S = 2.0
CLICK_WAIT_S = 15.0  # a script run starts within milliseconds of a click; none after this long means a lost click
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
LOCALHOST = {"localhost", "127.0.0.1", "::1"}
_PAGE_PROBLEMS = """() => ({
    exceptions: document.querySelectorAll('[data-testid="stException"]').length,
    errors: [...document.querySelectorAll('[data-testid="stAlertContentError"]')].map(e => e.innerText.slice(0, 200)),
    traceback: document.body.innerText.includes('Traceback'),
})"""


@dataclass(frozen=True)
class Request:
    session: int
    started: float  # when Compare was clicked, seconds since the browser started
    seconds: float  # click to rendered answer (or to the failure)
    error: str | None
    clicks: int = 1  # 2 when the first click started no script run (the browser lost it) and was repeated


@dataclass(frozen=True)
class LoadReport:
    url: str
    sessions: int
    opened_at: float  # seconds since the browser started (all times below count from there): every page open
    elapsed: float  # when the last session stopped
    requests: tuple[Request, ...]
    warm_at: float | None  # when every session had its first answer (page and model loading behind us)
    rss: tuple[tuple[float, int], ...]  # (seconds, bytes) of the server and its children
    loads: dict[str, list[float]] | None  # model -> load times in s; None when the server log is unknown
    cpus: int

    @property
    def errors(self) -> list[Request]:
        return [r for r in self.requests if r.error]

    @property
    def warm(self) -> list[float]:
        """Answer times of requests sent after warm-up (page loads and model loads are behind us)."""
        if self.warm_at is None:
            return []
        return [r.seconds for r in self.requests if not r.error and r.started >= self.warm_at]

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and self.loads is not None
            and all(len(t) == 1 for t in self.loads.values())
            and bool(self.warm)
        )

    def rss_at(self, t: float) -> int:
        return min(self.rss, key=lambda s: abs(s[0] - t))[1]

    def text(self) -> str:
        mb = 1 << 20
        lines = [
            f"Load test: {self.sessions} browser sessions × {self.elapsed - self.opened_at:.0f} s against {self.url} "
            f"({self.cpus} CPUs shared by server and browser)",
            f"requests: {len(self.requests)} answered or failed, {len(self.errors)} errors, "
            f"{sum(r.clicks > 1 for r in self.requests)} clicks repeated (no script run started within "
            f"{CLICK_WAIT_S:.0f} s)",
        ]
        if self.warm:
            warm = self.warm
            q = statistics.quantiles(warm, n=20, method="inclusive") if len(warm) > 1 else [warm[0]] * 19
            lines.append(
                f"time to rendered answer after warm-up: p50 {statistics.median(warm):.2f} s, p95 {q[18]:.2f} s, "
                f"max {max(warm):.2f} s (n={len(warm)}, {len(warm) / (self.elapsed - (self.warm_at or 0)):.1f} "
                f"answers/s)"
            )
        if self.warm_at is not None:
            lines.append(f"warm-up: every page open after {self.opened_at:.1f} s, every session answered once after "
                         f"{self.warm_at:.1f} s")
        if self.rss:
            after = [b for t, b in self.rss if self.warm_at is not None and t >= self.warm_at]
            lines.append(
                f"server RSS (with children): start {self.rss[0][1] / mb:.0f} MB, "
                + (f"after warm-up {self.rss_at(self.warm_at) / mb:.0f} MB, " if self.warm_at is not None else "")
                + f"end {self.rss[-1][1] / mb:.0f} MB"
                + (f", max after warm-up {max(after) / mb:.0f} MB" if after else "")
            )
        if self.loads is None:
            lines.append("model loads: unknown (--server-log: the log of a server that prints benchmarks' INFO lines)")
        else:
            loads = ", ".join(
                f"{m} ×{len(t)} ({', '.join(f'{s:.1f} s' for s in t)})" for m, t in sorted(self.loads.items())
            )
            lines.append(f"model loads: {loads or 'none'}")
        for r in self.errors[:10]:
            lines.append(f"  error in session {r.session} at {r.started:.1f} s: {r.error}")
        lines.append(
            "verdict: " + ("OK" if self.ok else "FAILED (errors, a model loaded more than once, or no answers)")
        )
        return "\n".join(lines)


class ScriptRuns:
    """One session's script runs, read off Streamlit's websocket: each run opens with a `new_session`
    message and closes with `script_finished`. This is how a request knows its own answer arrived,
    rather than the previous one still on screen. A run stopped for a rerun may never report its end:
    the server drops its queued `script_finished` when the next run starts, so only the latest run's
    end counts."""

    def __init__(self):
        # Streamlit's wire format, imported here only: `import benchmarks` must not pull in streamlit.
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._parse, self._ok = ForwardMsg.FromString, ForwardMsg.FINISHED_SUCCESSFULLY
        self.started = 0
        self.running = self.last_ok = False
        self.changed = asyncio.Event()

    def attach(self, websocket) -> None:
        websocket.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            return
        msg = self._parse(payload)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.started += 1
            self.running = True
        elif kind == "script_finished":
            self.running = False
            self.last_ok = msg.script_finished == self._ok
        else:
            return
        self.changed.set()

    async def started_after(self, runs_before: int) -> None:
        """Until a run begins after `runs_before` runs."""
        while self.started <= runs_before:
            self.changed.clear()
            await self.changed.wait()

    async def settled_after(self, runs_before: int) -> None:
        """Until a run that began after `runs_before` runs has finished and no other is going."""
        while not (self.started > runs_before and not self.running):
            self.changed.clear()
            await self.changed.wait()


@dataclass
class _Step:
    """Where one request is, so a failure can say at which step it stopped."""

    clicked: float
    doing: str = "filling the Text box"
    clicks: int = 0


async def _answer(page, runs: ScriptRuns, text: str, timeout: float, step: _Step) -> str | None:
    """Fill, click Compare, wait for this input's answer; the error as one line, or None."""
    await page.get_by_label("Text", exact=True).fill(text)
    before = runs.started
    step.clicked, step.doing = time.monotonic(), "clicking Compare"
    button = page.get_by_role("button", name="Compare")
    await button.click()
    step.clicks = 1
    try:
        await asyncio.wait_for(runs.started_after(before), CLICK_WAIT_S)
    except asyncio.TimeoutError:
        # Nothing reached the server: a click on a button being re-rendered can be lost on a starved
        # CPU. A person would click again; the report counts these apart from errors.
        step.doing, step.clicks = "clicking Compare again", 2
        await button.click()
    step.doing = "waiting for the script run to finish"
    await asyncio.wait_for(runs.settled_after(before), timeout)
    if not runs.last_ok:
        return "the script run did not finish successfully"
    step.doing = "waiting for the answer on screen"
    answer = page.locator('[data-testid="stMetric"]', has_text="Student speed-up")
    await answer.wait_for(state="visible", timeout=timeout * 1000)
    await page.locator('[data-stale="true"]').first.wait_for(state="detached", timeout=timeout * 1000)
    problems = await page.evaluate(_PAGE_PROBLEMS)
    if problems["exceptions"] or problems["traceback"]:
        return "the page shows an exception"
    if problems["errors"]:
        return f"the page shows an error: {problems['errors'][0]}"
    return None


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or "Timeout" in type(exc).__name__:
        return "timed out"
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"


async def _open(page, url: str, timeout: float) -> None:
    await page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
    await page.get_by_label("Text", exact=True).wait_for(timeout=timeout * 1000)


class _Window:
    """The timed part of a run. It opens once every session's page is open (or failed to open), so
    N sessions really are all active for the whole time."""

    def __init__(self, sessions: int, seconds: float):
        self.seconds, self.opened = seconds, None
        self._gate = asyncio.Barrier(sessions)

    async def stop_at(self) -> float:
        await self._gate.wait()
        if self.opened is None:
            self.opened = time.monotonic()
        return self.opened + self.seconds


async def _session(
    browser, url: str, index: int, window: _Window, t0: float, timeout: float, out: list[Request]
) -> None:
    """One viewer: their own browser context, asking again as soon as an answer is on screen."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    runs = ScriptRuns()
    page.on("websocket", runs.attach)
    rng, sentences = random.Random(index), sample_sentences()
    try:
        try:
            await _open(page, url, timeout)
        except Exception as exc:
            out.append(Request(index, time.monotonic() - t0, 0.0, f"could not open the page: {_one_line(exc)}"))
            await window.stop_at()  # still pass the gate, or the others would wait forever
            return
        stop_at, i = await window.stop_at(), 0
        while time.monotonic() < stop_at:
            step = _Step(time.monotonic())
            try:
                error = await _answer(page, runs, varied(sentences, rng, index, i), timeout, step)
            except Exception as exc:  # a timeout, a crashed page or a closed connection is a result too
                error = f"{_one_line(exc)} while {step.doing}"
            out.append(Request(index, step.clicked - t0, time.monotonic() - step.clicked, error, max(step.clicks, 1)))
            if error:
                try:
                    await _open(page, url, timeout)  # start this viewer afresh, as a person would
                except Exception as exc:
                    out.append(
                        Request(index, time.monotonic() - t0, 0.0, f"could not reopen the page: {_one_line(exc)}")
                    )
                    return
            i += 1
    finally:
        await context.close()


async def _sample_rss(pid: int | None, t0: float, stop: asyncio.Event, out: list[tuple[float, int]]) -> None:
    while pid is not None:
        out.append((time.monotonic() - t0, tree_rss(pid)))
        try:
            await asyncio.wait_for(stop.wait(), RSS_EVERY_S)
            out.append((time.monotonic() - t0, tree_rss(pid)))
            return
        except asyncio.TimeoutError:
            pass


async def drive(
    url: str, sessions: int, seconds: float, server_pid: int | None, timeout: float
) -> tuple[list[Request], list[tuple[float, int]], float, float]:
    """Run the sessions against `url`; return the requests, the RSS samples, when every page was open
    and when the run ended (seconds since the browser started)."""
    from playwright.async_api import async_playwright

    requests: list[Request] = []
    rss: list[tuple[float, int]] = []
    stop = asyncio.Event()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        t0 = time.monotonic()
        window = _Window(sessions, seconds)
        sampler = asyncio.create_task(_sample_rss(server_pid, t0, stop, rss))
        try:
            await asyncio.gather(*(_session(browser, url, i, window, t0, timeout, requests) for i in range(sessions)))
        finally:
            stop.set()
            await sampler
            await browser.close()
    return requests, rss, (window.opened or t0) - t0, time.monotonic() - t0


def warm_moment(requests: list[Request], sessions: int) -> float | None:
    """When the last session got its first answer (start + duration), or None if one never did."""
    first: dict[int, float] = {}
    for r in sorted(requests, key=lambda r: r.started):
        if not r.error and r.session not in first:
            first[r.session] = r.started + r.seconds
    return max(first.values()) if len(first) == sessions else None


def check_localhost(url: str) -> str:
    host = urllib.parse.urlsplit(url).hostname
    if host not in LOCALHOST:
        raise SystemExit(f"--url must point at this machine (localhost); got host {host!r}")
    return url.rstrip("/")


def page_url(base: str, teacher: str | None, student: str | None) -> str:
    if teacher and student:
        return f"{base}/?" + urllib.parse.urlencode({"pair": "custom", "teacher": teacher, "student": student})
    return f"{base}/"


def run(
    sessions: int,
    seconds: float,
    url: str | None = None,
    server_log: Path | None = None,
    teacher: str | None = None,
    student: str | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> LoadReport:
    """Start the app (unless `url` is given), drive it, stop it, and report."""
    if not 1 <= sessions <= MAX_SESSIONS or not 1 <= seconds <= MAX_SECONDS:
        raise ValueError(f"sessions must be 1..{MAX_SESSIONS} and seconds 1..{MAX_SECONDS}")
    server = None
    pid = None
    if url is None:
        server_log = server_log or Path(tempfile.mkdtemp(prefix="kd-loadtest-")) / "server.log"
        url = f"http://127.0.0.1:{free_port()}"
        server = start_server(int(url.rsplit(":", 1)[1]), server_log, {"HF_HUB_OFFLINE": "1", **(env or os.environ)})
        pid = server.pid
    else:
        url = check_localhost(url)
    try:
        wait_healthy(url)
        requests, rss, opened, elapsed = asyncio.run(
            drive(page_url(url, teacher, student), sessions, seconds, pid, timeout)
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(20)
    loads = count_loads(server_log.read_text(errors="replace")) if server_log and server_log.exists() else None
    warm = warm_moment(requests, sessions)
    return LoadReport(url, sessions, opened, elapsed, tuple(requests), warm, tuple(rss), loads, os.cpu_count() or 1)
