"""Command line: every subcommand prints one clear line on bad input and exits 2, never a traceback."""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import replace
from pathlib import Path

from benchmarks.core.pairs import BUILTIN_PAIRS
from benchmarks.core.settings import DATA_DIR
from benchmarks.core.vocabulary import DEFAULT_RUNTIME, ROLES, RUNTIMES, VARIANTS

EXAMPLES = """\
examples:
  python -m benchmarks run                        measure the pocket pair in every precision this device runs
  python -m benchmarks run --pair architecture    BERT-base vs DistilBERT shapes (random weights): speed only
  python -m benchmarks run --quick                a seconds-long smoke test of the whole chain
  python -m benchmarks list                       what the cache holds
  python -m benchmarks repeat --variants fp32     how well this machine repeats a p50 (each model twice)
  python -m benchmarks export gpu.json --this-machine    on a GPU box, then here:
  python -m benchmarks import gpu.json                   its results appear beside this machine's

Results are cached in var/results.sqlite (or $KD_STATE_DIR): a model is measured once per hardware,
software, weights, precision variant and settings; `run` reuses what is there unless --force.
"""


def _distill(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from benchmarks.distill.recipe import TrainConfig, build_pocket_pair

    bars: dict[str, tqdm] = {}

    def progress_factory(name: str):
        def update(step: int, total: int, loss: float) -> None:
            if name not in bars:
                bars[name] = tqdm(total=total, desc=name, unit="step")
            bar = bars[name]
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
            if step == total:
                bar.close()

        return update

    teacher = TrainConfig(max_train=args.teacher_sentences, lr=args.teacher_lr, seed=args.seed)
    student = TrainConfig(
        max_train=args.student_sentences, lr=args.student_lr, seed=args.seed + 1,
        temperature=args.temperature, alpha_kd=args.alpha_kd, alpha_ce=args.alpha_ce, alpha_cos=args.alpha_cos,
    )
    summary = build_pocket_pair(
        Path(args.out), Path(args.data) if args.data else None, teacher, student, progress_factory=progress_factory
    )
    for role, s in summary.items():
        print(f"{role}: {s['accuracy'] * 100:.2f} % [{s['ci_low'] * 100:.2f}, {s['ci_high'] * 100:.2f}] in "
              f"{s['train_seconds'] / 60:.1f} min")
    return 0


def _live_distill(args: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from benchmarks.core.pairs import POCKET_PAIR, custom_pair
    from benchmarks.core.settings import load_settings
    from benchmarks.distill.live import LiveConfig
    from benchmarks.jobs.kinds import LiveRequest, live_job_of
    from benchmarks.jobs.service import Jobs
    from benchmarks.jobs.work import drain

    settings = load_settings()
    if args.state:
        settings = replace(settings, state_dir=Path(args.state).expanduser().resolve())
    jobs = Jobs(settings)
    teacher = POCKET_PAIR.teacher if args.teacher == "pocket" else custom_pair(args.teacher, args.teacher).teacher
    chosen = dict(layers=args.layers, steps=args.steps, temperature=args.temperature, alpha=args.alpha,
                  eval_every=args.eval_every)
    config = LiveConfig(**{k: v for k, v in chosen.items() if v is not None}, hard_labels=args.hard_labels,
                        seed=args.seed)
    request = LiveRequest((teacher.source, teacher.ref), asdict(config))
    job, _ = jobs.board.submit("live", request.to_json(), _here(), "local")  # run below, in this process
    print(f"job {job.id}: {config.describe()}", flush=True)
    _stop_on_sigterm()
    drain(jobs.board, "live", settings, log=lambda line: print(line, flush=True))
    record = jobs.get(job.id)
    if record is None or record.state == "queued":
        print("queued: another worker is running a job on this machine and will take this one next")
        return 0
    live = live_job_of(record)
    if record.state != "finished":
        if record.state != "failed":  # a failure was already logged by the worker
            print(f"{record.state}: {record.message}")
        return 1
    last = live.losses[-1]
    print(f"wall time {live.seconds:.0f} s · final step {last.step}: KD {last.kd:.4f}, hard (vs {live.hard_vs}) "
          f"{last.hard:.4f}, total {last.total:.4f}")
    for s in live.scores:
        print(f"{s.name:>15}: {s.layers} layers, {s.params / 1e6:.1f} M params · dev {s.accuracy:.1%} "
              f"[{s.ci_low:.1%}, {s.ci_high:.1%}] · agreement with the teacher {s.agreement:.1%} · "
              f"{s.throughput.describe()}")
    return 0


def _here() -> str:
    from benchmarks.jobs import here

    return here.fingerprint()


def _open_store(args: argparse.Namespace):
    from benchmarks.harness.runner import open_store

    store = open_store(_db_target(args.db) if args.db else None)
    if store.recovered:
        print(f"warning: {store.recovered}", file=sys.stderr)
    return store


def _db_target(arg: str) -> str | Path:
    return arg if "://" in arg else Path(arg)


def _chosen_pair(args: argparse.Namespace):
    from benchmarks.core.pairs import custom_pair

    if args.teacher or args.student:
        if not (args.teacher and args.student):
            raise ValueError("--teacher and --student go together (a custom pair needs both).")
        return custom_pair(args.teacher, args.student)
    return BUILTIN_PAIRS[args.pair]


def _variant_names(arg: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in arg.split(",") if v.strip())) if arg else ()


def _sizes(flag: str, arg: str | None) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x) for x in _variant_names(arg))
    except ValueError:
        raise ValueError(f"{flag} {arg}: give whole numbers separated by commas, e.g. 1,32.") from None
    if any(x < 1 for x in sizes):
        raise ValueError(f"{flag} {arg}: sizes must be positive.")
    return sizes


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (the dashboard's Stop button) ends a run like Ctrl-C: cleanly


def _stop_on_sigterm() -> None:
    """SIGTERM ends this command like Ctrl-C, and so does the end of the dashboard that started it in the
    background."""
    from benchmarks.core.background import follow_parent

    signal.signal(signal.SIGTERM, _interrupt)
    follow_parent()


def _brief(result) -> str:
    from benchmarks.harness.speedups import drift

    big = max(result.cells, key=lambda c: (c.batch * c.seq_len, c.batch))
    small = min(result.cells, key=lambda c: (c.batch * c.seq_len, c.batch))
    acc = result.accuracy
    accuracy = f"acc {acc.value:.1%} [{acc.low:.1%}, {acc.high:.1%}]" if acc else "no accuracy (architecture only)"
    spread = drift([result])
    moved = f" · p50 moved {spread[0].median:.1%} between sweeps (worst {spread[0].worst:.1%})" if spread else ""
    return (
        f"{small.batch}×{small.seq_len}: {small.model.p50:.1f} ms · {big.batch}×{big.seq_len}: {big.model.p50:.0f} ms "
        f"p50 "
        f"(model only){moved} · {accuracy} · peak +{result.memory.run_peak_mb:.0f} MiB"
    )


def _run(args: argparse.Namespace) -> int:
    from benchmarks.harness.runner import RunRequest, run_pair
    from benchmarks.harness.speedups import speedups

    request = RunRequest(_chosen_pair(args), args.device, _variant_names(args.variants), args.quick, args.threads,
                         args.budget, args.data, args.force, None, _variant_names(args.runtimes) or (DEFAULT_RUNTIME,),
                         _sizes("--batches", args.batches), _sizes("--seq-lens", args.seq_lens))
    if args.on:
        from benchmarks.jobs.commands import run_on

        return run_on(args, request)
    _stop_on_sigterm()
    report = run_pair(replace(request, db=args.db and _db_target(args.db)), _open_store(args))
    for item in report.items:
        print(f"{item.status:>8}  {item.config.name} · {item.config.setup}: {_brief(item.result)}")
    for reason in report.skipped:
        print(f"not measured: {reason}")
    big = max(report.settings.batch_sizes), max(report.settings.seq_lens)
    for s in speedups(report.results):
        if (s.batch, s.seq_len) == big:
            sweeps = (
                f" (median of the sweeps' {' / '.join(f'{r:.2f}' for r in s.sweep_ratios)})" if s.sweep_ratios else ""
            )
            print(f"student speed-up, {s.setup}, {s.batch}×{s.seq_len}: {s.ratio:.2f}×{sweeps}, FLOPs ceiling "
                  f"{s.ceiling:.2f}×")
    return 0


def _list(args: argparse.Namespace) -> int:
    from benchmarks.harness.machines import machine_of
    from benchmarks.harness.selection import latest

    store = _open_store(args)
    stored = store.records("model", args.pair)
    origin = {s.record.key: s.origin for s in stored}
    results = latest(s.record for s in stored) if not args.all else [s.record for s in stored]
    for machine in sorted({machine_of(r) for r in results}, key=lambda m: m.label):
        print(f"\n{machine.label}")
        for r in (r for r in results if machine_of(r) == machine):
            print(f"  {r.config.pair:<13} {r.config.name} · {r.config.setup:<13} {_brief(r)} · {origin[r.key]} · "
                  f"{r.measured_at}")
    if not stored:
        print(f"The cache {store.where} holds no results{' for ' + args.pair if args.pair else ''}. Run: python -m "
              f"benchmarks run")
    _list_machines(args, store, sorted({machine_of(r).label for r in results}))
    return 0


def _list_machines(args: argparse.Namespace, store, in_store: list[str]) -> None:
    """The machines the store holds results of, and those connected to the cluster (KD_RAY_ADDRESS)."""
    from benchmarks.core.settings import load_settings
    from benchmarks.jobs.service import Jobs

    print("\nmachines with results in the store: " + (", ".join(in_store) or "none"))
    settings = load_settings()
    if not settings.ray_address:
        return
    connected = Jobs(settings, store.db).machines()
    print(f"machines of the cluster at {settings.ray_address}:")
    for m in connected:
        print(f"  {m.label} · {'connected' if m.alive else 'gone'} · {m.cpus:g} CPUs, {m.gpus:g} GPUs · run --on "
              f"{m.key}")
    if not connected:
        print("  none has joined (python -m benchmarks join --address ...)")


def _export(args: argparse.Namespace) -> int:
    from benchmarks.core.device import detect_hardware
    from benchmarks.harness.results import BenchmarkResult

    store = _open_store(args)
    here = detect_hardware().fingerprint

    def keep_model(rec) -> bool:
        return (not args.pair or rec.config.pair in args.pair) and (
            not args.this_machine or rec.hardware.fingerprint == here
        )

    models = [s.record for s in store.records("model") if keep_model(s.record)]
    machines = {r.hardware.fingerprint for r in models}
    n = store.export(
        args.file,
        lambda s: (
            keep_model(s.record) if isinstance(s.record, BenchmarkResult) else s.record.hardware.fingerprint in machines
        ),
    )
    print(f"exported {n} records ({len(models)} model results, {n - len(models)} matmul peaks) to {args.file}")
    return 0


def _import(args: argparse.Namespace) -> int:
    store = _open_store(args)
    for file in args.files:
        added, skipped = store.import_file(file, replace=args.replace)
        print(
            f"{file}: added {added}, kept {skipped} already in the cache"
            + ("" if args.replace else " (use --replace to overwrite)")
        )
    return 0


def _vs_pipeline(args: argparse.Namespace) -> int:
    import torch

    from benchmarks.core.data import load_sst2
    from benchmarks.core.device import detect_hardware, thread_count
    from benchmarks.core.models import load_model
    from benchmarks.core.pairs import BUILTIN_PAIRS
    from benchmarks.harness import pipeline_baseline as baseline
    from benchmarks.harness.machines import default_machine, machine_of
    from benchmarks.harness.measure import EVAL_MAX_LENGTH
    from benchmarks.harness.selection import latest
    from benchmarks.harness.setups import with_runtime
    from benchmarks.runtimes.base import RuntimeUnavailable

    pair = BUILTIN_PAIRS[args.pair]
    if pair.architecture_only:
        raise ValueError("the architecture pair has random weights: there is no accuracy to compare.")
    hardware = detect_hardware()
    stored = [s.record for s in _open_store(args).records("model", args.pair)
              if s.record.hardware.fingerprint == hardware.fingerprint]
    results = [r for r in latest(stored) if r.config.device == "cpu" and r.accuracy is not None]
    if args.threads is not None:
        results = [r for r in results if r.config.settings.threads == args.threads]
    if not results:
        at = "" if args.threads is None else f" at {thread_count(args.threads)}"
        raise ValueError(f"no stored {args.pair} results with accuracy for this machine{at} yet. Run: python -m "
                         f"benchmarks run --pair {args.pair}" + ("" if args.threads is None else
                                                                   f" --threads {args.threads}"))
    # One thread count: the one with the most results unless --threads names it (timings at others do not compare).
    machine = default_machine(results, hardware, "cpu")
    results = [r for r in results if machine_of(r) == machine]
    print(f"{pair.title}\n{machine.label}: the pipeline and the stored setup that scored fastest take turns in this "
          f"run, {baseline.ROUNDS} passes each, the median shown")
    data = load_sst2("validation", args.data)
    for role in ROLES:
        fastest = baseline.fastest_scoring(results, role)
        if fastest is None:
            continue
        threads = fastest.config.settings.threads
        torch.set_num_threads(threads)
        loaded = load_model(getattr(pair, role), "cpu")
        try:
            chosen = with_runtime(loaded, fastest.config.runtime, fastest.config.variant, threads)
        except RuntimeUnavailable as exc:
            raise ValueError(f"{role}: {fastest.config.setup} cannot run here now: {exc}") from None
        pipe, setup = baseline.race(loaded, chosen, data, fastest.config.settings.eval_batch_size,
                                    min(EVAL_MAX_LENGTH, loaded.max_length), threads)
        for line in baseline.comparison_lines(role, fastest.config.setup, pipe, setup):
            print(line)
    return 0


def _repeat(args: argparse.Namespace) -> int:
    from benchmarks.core.device import detect_hardware, resolve_device
    from benchmarks.core.models import load_model
    from benchmarks.harness.runner import RunRequest
    from benchmarks.harness.speedups import repeats
    from benchmarks.harness.sweep import plan
    from benchmarks.harness.worker import measure_in_turns

    if not 0 < args.tolerance < 1:
        raise ValueError(f"--tolerance {args.tolerance}: give a fraction between 0 and 1, e.g. 0.05 for 5 %.")
    signal.signal(signal.SIGTERM, _interrupt)
    request = RunRequest(BUILTIN_PAIRS[args.pair], args.device, _variant_names(args.variants), threads=args.threads,
                         budget=args.budget)
    device = str(resolve_device(request.device))
    hardware = detect_hardware()
    variants = request.variants_on(device, hardware)
    settings = request.settings()
    pair = request.pair
    fingerprints = {role: load_model(getattr(pair, role), device).fingerprint for role in ROLES}
    print(f"{pair.title}\n{hardware.label(device)} · {settings.threads} threads · each model measured twice, "
          f"the two processes taking turns cell by cell; p50 of the second against the first (model only)")
    within = total = 0
    for config in plan(pair, fingerprints, device, variants, settings, None):
        (_, first), (_, second) = sorted(measure_in_turns([config, config]), key=lambda item: item[0])
        cells = repeats(first, second)
        ok = sum(abs(c.difference) <= args.tolerance for c in cells)
        within, total = within + ok, total + len(cells)
        print(f"{config.name} · {config.variant}: {ok}/{len(cells)} cells within {args.tolerance:.0%}, worst "
              f"{max(abs(c.difference) for c in cells):.1%} · "
              + " ".join(f"{c.batch}×{c.seq_len} {c.difference:+.1%}" for c in cells), flush=True)
    print(f"all: {within}/{total} cells within {args.tolerance:.0%}")
    return 0


def _heads(args: argparse.Namespace) -> int:
    from benchmarks.analysis import heads
    from benchmarks.core.data import load_sst2
    from benchmarks.core.device import resolve_device
    from benchmarks.core.models import load_pair
    from benchmarks.core.settings import load_settings

    if args.sentences < 1:
        raise ValueError(f"--sentences {args.sentences}: give at least 1.")
    _stop_on_sigterm()
    pair = load_pair(_chosen_pair(args), str(resolve_device(args.device)))  # own instances: the masks touch no one
    data = load_sst2("validation", args.data).head(args.sentences)
    result = heads.pair_head_importance(pair, data)
    root = heads.SHIPPED_ROOT if args.ship else load_settings().state_dir
    path = Path(args.out) if args.out else heads.cache_file(
        root, pair.teacher.fingerprint, pair.student.fingerprint, data)
    heads.save(path, result)
    print(f"{pair.spec.title}: {result.data_source}, {result.machine}")
    for role, r in (("teacher", result.teacher), ("student", result.student)):
        print(f"{role} ({r.model}): accuracy {r.base_accuracy:.1%} with every head, {r.seconds:.0f} s")
        for title, most in (("most important", True), ("least important", False)):
            print(f"  {title}: " + ", ".join(f"L{layer}.H{head} {d * 100:+.1f} pp (gold prob "
                                             f"{r.probability_drops[layer, head]:+.4f})"
                                             for layer, head, d in r.ranked(3, most)))
    print(f"saved to {path}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from benchmarks.analysis import scoring
    from benchmarks.core.data import load_sst2
    from benchmarks.core.models import load_pair
    from benchmarks.core.settings import load_settings

    pair = load_pair(_chosen_pair(args))
    data = load_sst2("validation", args.data)
    folder = scoring.SHIPPED_DIR if args.ship else load_settings().state_dir / "scores"
    if args.ship and scoring.cached_scores(pair, data, folder) is not None:
        print(f"{folder}: already holds the scores of these weights on these sentences")
        return 0
    scores = scoring.score_pair(pair, data, folder)
    for role in ("teacher", "student"):
        model = getattr(scores, role)
        print(f"{role} ({model.name}): accuracy {scores.accuracy(role).value:.1%} on {len(data):,} sentences, "
              f"{model.seconds:.1f} s")
    print(f"stored as {folder / (scoring.cache_key(pair, data) + '.json')} ({scores.run.describe()})")
    return 0


def _db_parent() -> argparse.ArgumentParser:
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", help="results database: a sqlite file or a database URL (default: $KD_DATABASE_URL, else "
                    "var/results.sqlite, or $KD_STATE_DIR/results.sqlite)")
    return db


def _add_labelled_pair(parser: argparse.ArgumentParser) -> None:
    """--pair among the pairs with trained weights, or --teacher/--student for a custom one."""
    parser.add_argument("--pair", choices=[k for k, p in BUILTIN_PAIRS.items() if not p.architecture_only],
                        default="pocket")
    parser.add_argument("--teacher", help="a custom teacher: Hub id or local folder (with --student; overrides --pair)")
    parser.add_argument("--student", help="a custom student: Hub id or local folder (with --teacher)")


def _add_benchmark_commands(sub) -> None:
    db = _db_parent()

    r = sub.add_parser(
        "run", parents=[db], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="measure a teacher/student pair (cached: nothing is measured twice)",
        description=(
            "Measure the teacher and the student of a pair, in each precision variant, and store the results.\n"
            "Per model: load time, first-call latency, latency p50/p90/p99 over batch 1/8/32 x 16/64/128 tokens\n"
            "(model only and with the tokenizer, kept apart), throughput, peak memory (a fresh process per model; the\n"
            "teacher's and the student's take turns cell by cell, so outside load hits both alike),\n"
            "parameters, size, and SST-2 dev accuracy with a 95 % interval. Results already in the cache for this\n"
            "hardware, software, model and settings are reused unless --force."
        ),
    )
    r.add_argument("--pair", choices=list(BUILTIN_PAIRS), default="pocket",
                   help="pocket: the bundled offline pair (default); architecture: BERT-base vs DistilBERT shapes with "
                        "random weights (speed only, no accuracy); hub: the real checkpoints (online or cached)")
    r.add_argument("--teacher", help="a custom teacher: Hub id or local folder (with --student; overrides --pair)")
    r.add_argument("--student", help="a custom student: Hub id or local folder (with --teacher)")
    r.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, or cuda[:N] (default auto)")
    r.add_argument("--variants", help=f"comma-separated, from {', '.join(VARIANTS)} (default: all this device runs "
                                      f"natively)")
    r.add_argument("--runtimes", help=f"comma-separated, from {', '.join(RUNTIMES)} (default: eager). Each runs "
                                      "the precisions it supports here; one not installed or failing is reported")
    r.add_argument("--batches", help="comma-separated batch sizes instead of 1,8,32 (not with --quick)")
    r.add_argument("--seq-lens", help="comma-separated sequence lengths instead of 16,64,128 (not with --quick)")
    r.add_argument("--force", action="store_true", help="measure again even when the cache has the result")
    r.add_argument(
        "--quick",
        action="store_true",
        help="a tiny grid (batch 1,4 x 8,16 tokens), 64 accuracy sentences, no matmul "
        "peak: checks the setup in seconds; stored apart from full runs",
    )
    r.add_argument("--budget", type=float, default=1.0, help="timed seconds per grid cell (at least 10 iterations "
                                                             "anyway; default 1.0)")
    r.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice, the core count)")
    r.add_argument("--data", help="folder with SST-2 dev.tsv (default: $SST2_DIR, else the dev split shipped in "
                                  "data/sst2)")
    r.add_argument("--on", metavar="MACHINE", help="send the run to this machine of the Ray cluster (KD_RAY_ADDRESS), "
                                                   "named by its label, identity or part of it; 'all': every machine")
    r.add_argument("--wait", action="store_true", help="with --on: follow the jobs to their end")
    r.set_defaults(func=_run)

    ls = sub.add_parser("list", parents=[db], help="show the cached results, grouped by hardware")
    ls.add_argument("--pair", help="only this pair key (pocket, architecture, hub, custom:...)")
    ls.add_argument("--all", action="store_true", help="every stored result, not only the latest per model and variant")
    ls.set_defaults(func=_list)

    ex = sub.add_parser(
        "export", parents=[db], help="write cached results to a JSON file, to import on another machine"
    )
    ex.add_argument("file", help="output .json file")
    ex.add_argument("--pair", action="append", help="only this pair (repeatable)")
    ex.add_argument("--this-machine", action="store_true", help="only results measured on this hardware")
    ex.set_defaults(func=_export)

    im = sub.add_parser("import", parents=[db], help="add the results of an exported JSON file (e.g. from a GPU box)")
    im.add_argument("files", nargs="+", help="exported .json files")
    im.add_argument("--replace", action="store_true", help="overwrite results that are already in the cache")
    im.set_defaults(func=_import)

    rp = sub.add_parser(
        "repeat",
        help="measure each model twice, taking turns, to see how well this machine repeats a p50 (nothing is stored)",
        description="The noise floor of this machine: every model of the pair is measured twice on the full grid, by "
                    "two\n"
        "fresh processes taking turns cell by cell (so both see the same minute of outside load), and the\n"
        "two p50s of each cell are compared. Run it on a quiet machine; nothing is written to the cache.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rp.add_argument("--pair", choices=list(BUILTIN_PAIRS), default="pocket")
    rp.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, or cuda[:N] (default auto)")
    rp.add_argument("--variants", help=f"comma-separated, from {', '.join(VARIANTS)} (default: all this device runs "
                                       f"natively)")
    rp.add_argument("--budget", type=float, default=1.0, help="timed seconds per grid cell (default 1.0, as in run)")
    rp.add_argument("--threads", type=int, help="torch CPU threads (default: the core count)")
    rp.add_argument("--tolerance", type=float, default=0.05, help="a cell repeats when its p50s differ by at most this "
                                                                  "(default 0.05)")
    rp.set_defaults(func=_repeat)

    hp = sub.add_parser("heads", help="accuracy on SST-2 dev with each attention head masked, one at a time (both "
                                      "models; cached per pair)")
    _add_labelled_pair(hp)
    hp.add_argument("--sentences", type=int, default=200, help="the first N sentences of SST-2 dev (default 200)")
    hp.add_argument("--device", default="cpu", help="cpu (default), auto, or cuda[:N]")
    hp.add_argument("--data", help="folder with SST-2 dev.tsv (default: $SST2_DIR, else the dev split shipped in "
                                   "data/sst2)")
    hp.add_argument("--out", help="result JSON (default: the per-pair cache under $KD_STATE_DIR/head-importance/)")
    hp.add_argument("--ship", action="store_true", help="write it under data/precomputed/ instead, named by the "
                                                        "fingerprints of the weights and sentences, to ship with the "
                                                        "project (what the Explain page reads when nothing is cached)")
    hp.set_defaults(func=_heads)

    sp = sub.add_parser("score", help="score SST-2 dev with both models of a pair (the Distillation page's data-set "
                                      "scores), eagerly in fp32")
    _add_labelled_pair(sp)
    sp.add_argument("--data", help="folder with SST-2 dev.tsv (default: $SST2_DIR, else data/sst2)")
    sp.add_argument("--ship", action="store_true", help="write under data/precomputed/scores, named by the "
                                                        "fingerprints of the weights and sentences, to ship with the "
                                                        "project (default: this server's cache)")
    sp.set_defaults(func=_score)

    vp = sub.add_parser("vs-pipeline", parents=[db], help="time a default transformers.pipeline on SST-2 dev and the "
                                                          "fastest stored setup, taking turns in one run")
    vp.add_argument(
        "--pair", choices=[k for k, p in BUILTIN_PAIRS.items() if not p.architecture_only], default="pocket"
    )
    vp.add_argument("--data", help="folder with SST-2 dev.tsv (default: $SST2_DIR, else the dev split shipped in "
                                   "data/sst2)")
    vp.add_argument("--threads", type=int, help="compare the results stored at this thread count (default: the count "
                                                "with the most results)")
    vp.set_defaults(func=_vs_pipeline)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure, cache and build the teacher/student models behind the dashboard.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_benchmark_commands(sub)
    from benchmarks.jobs.commands import add_commands

    add_commands(sub, _db_parent())

    d = sub.add_parser("distill", help="build the offline pocket pair (teacher fine-tune, then DistilBERT-style "
                                       "student)")
    d.add_argument("--data", help="folder with SST-2 train.tsv and dev.tsv (default: $SST2_DIR; else train from the "
                                  "Hub via datasets when online, dev from data/sst2)")
    d.add_argument("--out", default=str(DATA_DIR / "pocket"), help="output folder (default: data/pocket)")
    d.add_argument("--teacher-sentences", type=int, default=None, help="train on a random subset of this many "
                                                                       "sentences (default: all 67,349)")
    d.add_argument("--student-sentences", type=int, default=None, help="student's random subset size (default: all)")
    d.add_argument("--teacher-lr", type=float, default=5e-5)
    d.add_argument("--student-lr", type=float, default=1e-4)
    d.add_argument("--temperature", type=float, default=2.0, help="distillation temperature T (default 2)")
    d.add_argument("--alpha-kd", type=float, default=0.5, help="weight of the soft-target KL term")
    d.add_argument("--alpha-ce", type=float, default=0.5, help="weight of the hard-label cross-entropy")
    d.add_argument("--alpha-cos", type=float, default=0.1, help="weight of the hidden-state cosine term")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=_distill)

    lv = sub.add_parser(
        "live-distill", help="distil a 1-3 layer student from a teacher in minutes, on unlabelled SST-2 train "
                             "sentences",
        description="Queue a live distillation job (the Distillation page's 'Distil it yourself') and run the queue "
                    "here, one job at a time per state folder; the finished student is kept under "
                    "<state>/live/students.",
    )
    lv.add_argument("--teacher", default="pocket", help="pocket (default), a local BERT folder or a cached Hub id")
    # Defaults (None) come from benchmarks.distill.live.LiveConfig, imported only when the command runs.
    lv.add_argument("--layers", type=int, help="student layers, 1-3 (default 2)")
    lv.add_argument("--steps", type=int, help="training steps of 32 sentences (default: the dashboard's default run)")
    lv.add_argument("--temperature", "-T", type=float, help="distillation temperature (default 2)")
    lv.add_argument("--alpha", type=float, help="KD weight when --hard-labels adds the gold-label term (default 0.5)")
    lv.add_argument("--hard-labels", action="store_true", help="add cross-entropy on gold labels (needs SST2_DIR "
                                                              "with train.tsv)")
    lv.add_argument("--eval-every", type=int, help="steps between dev checks (default 40)")
    lv.add_argument("--seed", type=int, default=0)
    lv.add_argument("--state", help="state folder (default: $KD_STATE_DIR, else var/)")
    lv.set_defaults(func=_live_distill)
    return parser


def main(argv: list[str] | None = None) -> int:
    from benchmarks.core.background import RunInProgress
    from benchmarks.core.data import DataUnavailable
    from benchmarks.core.models import ModelLoadError
    from benchmarks.core.paths import scrub
    from benchmarks.harness.measure import HarnessError
    from benchmarks.jobs.cluster import ClusterUnavailable
    from benchmarks.store.database import StoreUnavailable

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataUnavailable, ModelLoadError, HarnessError, RunInProgress, ValueError, FileNotFoundError,
            StoreUnavailable, ClusterUnavailable) as exc:
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
