"""Command line: every subcommand prints one clear line on bad input and exits 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.settings import DATA_DIR


def _distill(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from benchmarks.distill import TrainConfig, build_pocket_pair

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
    summary = build_pocket_pair(Path(args.out), Path(args.data) if args.data else None, teacher, student, progress_factory=progress_factory)
    for role, s in summary.items():
        print(f"{role}: {s['accuracy'] * 100:.2f} % [{s['ci_low'] * 100:.2f}, {s['ci_high'] * 100:.2f}] in {s['train_seconds'] / 60:.1f} min")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure, cache and build the teacher/student models behind the dashboard.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser("distill", help="build the offline pocket pair (teacher fine-tune, then DistilBERT-style student)")
    d.add_argument("--data", help="folder with SST-2 train.tsv and dev.tsv (default: $SST2_DIR or ../shared/data/sst2; the Hub when online)")
    d.add_argument("--out", default=str(DATA_DIR / "pocket"), help="output folder (default: data/pocket)")
    d.add_argument("--teacher-sentences", type=int, default=40_000, help="random train sentences for the teacher (default 40000; 67349 = all)")
    d.add_argument("--student-sentences", type=int, default=40_000, help="random train sentences for the student (default 40000)")
    d.add_argument("--teacher-lr", type=float, default=1e-4)
    d.add_argument("--student-lr", type=float, default=1e-4)
    d.add_argument("--temperature", type=float, default=2.0, help="distillation temperature T (default 2)")
    d.add_argument("--alpha-kd", type=float, default=0.5, help="weight of the soft-target KL term")
    d.add_argument("--alpha-ce", type=float, default=0.5, help="weight of the hard-label cross-entropy")
    d.add_argument("--alpha-cos", type=float, default=0.1, help="weight of the hidden-state cosine term")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=_distill)
    return parser


def main(argv: list[str] | None = None) -> int:
    from benchmarks.data import DataUnavailable
    from benchmarks.models import ModelLoadError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataUnavailable, ModelLoadError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
