"""A one-file HTML summary of a teacher/student comparison for a model-selection review:
accuracy with intervals, measured speed, size and agreement. Self-contained (no scripts, no links)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from jinja2 import Environment
from markupsafe import Markup

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


def _mb(size_bytes: int) -> str:
    return f"{size_bytes / 2**20:,.1f} MB" if size_bytes else "— (no weights file)"


def accuracy_verdict(agree: Agreement) -> str:
    """Whether the accuracy gap is larger than sampling noise. Both models answered the same sentences, so the
    test is a paired one (exact McNemar); overlapping intervals of the two accuracies would not tell."""
    paired = paired_from_counts(agree.both_right, agree.teacher_only, agree.student_only, agree.both_wrong)
    return f"Student accuracy {paired.describe('the teacher')}"


_TEMPLATE = Environment(autoescape=True).from_string("""<!DOCTYPE html>
{%- macro pct(p) %}{{ "%.1f%%" % (100 * p.value) }} <span class="note">[{{ "%.1f%%" % (100 * p.low) }} – {{ "%.1f%%" % (100 * p.high) }}]</span>{% endmacro %}
<html lang="en"><head><meta charset="utf-8"><title>Teacher vs student summary</title><style>{{ style }}</style></head>
<body>
<h1>Teacher vs student: model-selection summary</h1>
<p>{{ pair_title }}<br>Data set: {{ dataset }} ({{ "{:,}".format(n) }} labelled sentences)<br>
<span class="note">Generated {{ generated }}.</span></p>

<h2>At a glance</h2>
<table>
<tr><th>model</th><th>accuracy [95 % CI]</th><th>ECE</th><th>sentences/s</th><th>parameters</th><th>on disk</th><th>layers</th></tr>
{%- for r in rows %}
<tr><td>{{ r.role }}: {{ r.facts.name }}</td><td>{{ pct(r.acc) }}</td><td>{{ "%.3f" % r.ece }}</td><td>{{ "{:,.0f}".format(r.speed) }}</td>
<td>{{ "{:,.1f}".format(r.facts.n_params / 1e6) }} M</td><td>{{ r.size }}</td><td>{{ r.facts.n_layers }}</td></tr>
{%- endfor %}
</table>
<p class="note">Accuracy intervals: Wilson score, 95 %. ECE: expected calibration error over 10 equal-width confidence bins
(lower is better calibrated).</p>

<h2>Accuracy</h2>
<p>{{ verdict }}</p>

<h2>Speed</h2>
<p>Student throughput is <b>{{ "%.2f" % (speed_s / speed_t) }}×</b> the teacher's ({{ "{:,.0f}".format(speed_s) }} vs {{ "{:,.0f}".format(speed_t) }} sentences/s) when scoring
this data set, tokenization included.</p>
<p class="note">Measured on {{ run }}. One pass over the data set, not repeated: read differences under
~10 % as noise. The Benchmarks page has latency percentiles per batch size and sequence length.</p>

<h2>Size</h2>
<p>The student has <b>{{ "%.0f%%" % (100 * student.n_params / teacher.n_params) }}</b> of the teacher's parameters
({{ "{:,.1f}".format(student.n_params / 1e6) }} M vs {{ "{:,.1f}".format(teacher.n_params / 1e6) }} M) and {{ student.n_layers }} layers against {{ teacher.n_layers }}.</p>

<h2>Agreement</h2>
<p>Teacher and student give the same label on <b>{{ pct(agree.rate) }}</b> of the sentences
({{ "{:,}".format(agree.teacher_only + agree.student_only) }} disagreements: with two classes, one of the pair is then wrong).</p>
<table>
<tr><th></th><th>student right</th><th>student wrong</th></tr>
<tr><td>teacher right</td><td>{{ "{:,}".format(agree.both_right) }}</td><td>{{ "{:,}".format(agree.teacher_only) }}</td></tr>
<tr><td>teacher wrong</td><td>{{ "{:,}".format(agree.student_only) }}</td><td>{{ "{:,}".format(agree.both_wrong) }}</td></tr>
</table>
</body></html>
""")


def summary_html(pair_title: str, dataset: str, teacher: ModelFacts, student: ModelFacts, scores: DatasetScores) -> str:
    """The summary page, rendered by Jinja2 with autoescaping: names, paths and file names stay text."""
    cal_t, cal_s = scores.calibration()
    rows = [
        {"role": role, "facts": f, "acc": scores.accuracy(key), "ece": cal.ece, "speed": model.sentences_per_second, "size": _mb(f.size_bytes)}
        for role, key, f, cal, model in (
            ("Teacher", "teacher", teacher, cal_t, scores.teacher),
            ("Student", "student", student, cal_s, scores.student),
        )
    ]
    return _TEMPLATE.render(
        style=Markup(_STYLE), pair_title=pair_title, dataset=dataset, n=len(scores.gold), rows=rows,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        verdict=accuracy_verdict(scores.agreement()), run=scores.run.describe(),
        speed_t=scores.teacher.sentences_per_second, speed_s=scores.student.sentences_per_second,
        teacher=teacher, student=student, agree=scores.agreement(),
    ) + "\n"
