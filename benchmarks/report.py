"""A one-file HTML summary of a teacher/student comparison for a model-selection review:
accuracy with intervals, measured speed, size and agreement. Self-contained (no scripts, no links)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timezone

from benchmarks.analysis.stats import paired_from_counts
from benchmarks.metrics import Agreement, Proportion
from benchmarks.models import LoadedModel
from benchmarks.scoring import DatasetScores

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 860px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; } th, td { border: 1px solid #ccc; padding: .3em .7em; text-align: right; }
th:first-child, td:first-child { text-align: left; } .note { color: #555; font-size: .9em; }
"""


@dataclass(frozen=True)
class ModelFacts:
    name: str
    n_layers: int
    n_params: int
    size_bytes: int  # on-disk weights; 0 when there is no file (random weights, Hub without cache)

    @classmethod
    def of(cls, loaded: LoadedModel) -> "ModelFacts":
        return cls(loaded.spec.display_name, loaded.n_layers, loaded.n_params, loaded.size_bytes)


def _pct(p: Proportion) -> str:
    return f"{p.value:.1%} <span class='note'>[{p.low:.1%} – {p.high:.1%}]</span>"


def _mb(size_bytes: int) -> str:
    return f"{size_bytes / 2**20:,.1f} MB" if size_bytes else "— (no weights file)"


def accuracy_verdict(agree: Agreement) -> str:
    """Whether the accuracy gap is larger than sampling noise. Both models answered the same sentences, so the
    test is a paired one (exact McNemar); overlapping intervals of the two accuracies would not tell."""
    paired = paired_from_counts(agree.both_right, agree.teacher_only, agree.student_only, agree.both_wrong)
    return f"Student accuracy {paired.describe('the teacher')}"


def summary_html(pair_title: str, dataset: str, teacher: ModelFacts, student: ModelFacts, scores: DatasetScores) -> str:
    """The summary page; every piece of user-supplied text (names, paths, file names) is HTML-escaped."""
    e = html.escape
    acc_t, acc_s = scores.accuracy("teacher"), scores.accuracy("student")
    agree = scores.agreement()
    cal_t, cal_s = scores.calibration()
    speed_t, speed_s = scores.teacher.sentences_per_second, scores.student.sentences_per_second
    rows = "".join(
        f"<tr><td>{role}: {e(f.name)}</td><td>{_pct(acc)}</td><td>{cal.ece:.3f}</td><td>{speed:,.0f}</td>"
        f"<td>{f.n_params / 1e6:,.1f} M</td><td>{_mb(f.size_bytes)}</td><td>{f.n_layers}</td></tr>"
        for role, f, acc, cal, speed in (
            ("Teacher", teacher, acc_t, cal_t, speed_t),
            ("Student", student, acc_s, cal_s, speed_s),
        )
    )
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Teacher vs student summary</title><style>{_STYLE}</style></head>
<body>
<h1>Teacher vs student: model-selection summary</h1>
<p>{e(pair_title)}<br>Data set: {e(dataset)} ({len(scores.gold):,} labelled sentences)<br>
<span class="note">Generated {generated}.</span></p>

<h2>At a glance</h2>
<table>
<tr><th>model</th><th>accuracy [95 % CI]</th><th>ECE</th><th>sentences/s</th><th>parameters</th><th>on disk</th><th>layers</th></tr>
{rows}
</table>
<p class="note">Accuracy intervals: Wilson score, 95 %. ECE: expected calibration error over 10 equal-width confidence bins
(lower is better calibrated).</p>

<h2>Accuracy</h2>
<p>{accuracy_verdict(agree)}</p>

<h2>Speed</h2>
<p>Student throughput is <b>{speed_s / speed_t:.2f}×</b> the teacher's ({speed_s:,.0f} vs {speed_t:,.0f} sentences/s) when scoring
this data set, tokenization included.</p>
<p class="note">Measured on {e(scores.run.describe())}. One pass over the data set, not repeated: read differences under
~10 % as noise. The Benchmarks page has latency percentiles per batch size and sequence length.</p>

<h2>Size</h2>
<p>The student has <b>{student.n_params / teacher.n_params:.0%}</b> of the teacher's parameters
({student.n_params / 1e6:,.1f} M vs {teacher.n_params / 1e6:,.1f} M) and {student.n_layers} layers against {teacher.n_layers}.</p>

<h2>Agreement</h2>
<p>Teacher and student give the same label on <b>{_pct(agree.rate)}</b> of the sentences
({agree.teacher_only + agree.student_only:,} disagreements: with two classes, one of the pair is then wrong).</p>
<table>
<tr><th></th><th>student right</th><th>student wrong</th></tr>
<tr><td>teacher right</td><td>{agree.both_right:,}</td><td>{agree.teacher_only:,}</td></tr>
<tr><td>teacher wrong</td><td>{agree.student_only:,}</td><td>{agree.both_wrong:,}</td></tr>
</table>
</body></html>
"""
