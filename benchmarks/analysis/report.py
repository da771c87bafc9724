"""A one-file HTML summary of a teacher/student comparison for a model-selection review:
accuracy with intervals, measured speed, size and agreement. Self-contained (no scripts, no links)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import jinja2

from benchmarks.analysis.metrics import Agreement
from benchmarks.analysis.scoring import DatasetScores
from benchmarks.analysis.stats import paired
from benchmarks.core.figures import size_label
from benchmarks.core.models import LoadedModel

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 860px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .3em .7em; text-align: right; }
th:first-child, td:first-child { text-align: left; } .note { color: #555; font-size: .9em; }
"""


@dataclass(frozen=True)
class ModelFacts:
    name: str
    n_layers: int
    n_params: int
    weights_bytes: int  # at `precision` (figures.py: the one definition of size)
    precision: str

    @classmethod
    def of(cls, loaded: LoadedModel) -> "ModelFacts":
        return cls(loaded.spec.display_name, loaded.n_layers, loaded.n_params, loaded.weights_bytes, loaded.precision)

    @property
    def size(self) -> str:
        return size_label(self.weights_bytes, self.precision)


# Autoescaped: every value is HTML-escaped unless the template marks it safe, so user text (model names,
# paths, file names) can never become markup.
_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["pct"] = "{:.1%}".format
_ENV.filters["thousands"] = "{:,}".format
_TEMPLATE = _ENV.from_string("""\
{% macro pct(p) %}{{ p.value | pct }} <span class='note'>[{{ p.low | pct }} – {{ p.high | pct }}]</span>{% endmacro %}
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Teacher vs student summary</title><style>{{ style }}</style></head>
<body>
<h1>Teacher vs student: model-selection summary</h1>
<p>{{ pair_title }}<br>Data set: {{ dataset }} ({{ "{:,}".format(n) }} labelled sentences)<br>
<span class="note">Generated {{ generated }}.</span></p>

<h2>At a glance</h2>
<table>
<tr><th>model</th><th>accuracy [95 % CI]</th><th>ECE</th><th>throughput*</th><th>parameters</th><th>weights</th>\
<th>layers</th></tr>
{% for row in rows %}
<tr><td>{{ row.role }}: {{ row.facts.name }}</td><td>{{ pct(row.accuracy) }}</td>\
<td>{{ "{:.3f}".format(row.ece) }}</td>\
<td>{{ row.speed.label }}</td><td>{{ "{:,.1f}".format(row.facts.n_params / 1e6) }} M</td>\
<td>{{ row.facts.size }}</td><td>{{ row.facts.n_layers }}</td></tr>
{% endfor %}
</table>
<p class="note">Accuracy intervals: Wilson score, 95 %. ECE: expected calibration error over 10 equal-width
confidence bins (lower is better calibrated). *Throughput: sentences of one timed pass over its time, at
{{ conditions }} — other conditions (the Benchmarks page times fixed batch × length shapes) give other figures.
Weights: the state dict at the precision named, in MiB (the Benchmarks page lists every precision's).</p>

<h2>Accuracy</h2>
<p>{{ verdict }}</p>

<h2>Speed</h2>
<p>Student throughput is <b>{{ "{:.2f}".format(speed_s.per_second / speed_t.per_second) }}×</b> the teacher's \
({{ speed_s.label }} vs {{ speed_t.label }}) when scoring this data set, at {{ conditions }}.</p>
<p class="note">Measured on {{ run }}. One pass over the data set, not repeated: read differences under
~10 % as noise. The Benchmarks page has latency percentiles per batch size and sequence length.</p>

<h2>Size</h2>
<p>The student has <b>{{ "{:.0%}".format(student.n_params / teacher.n_params) }}</b> of the teacher's parameters
({{ "{:,.1f}".format(student.n_params / 1e6) }} M vs {{ "{:,.1f}".format(teacher.n_params / 1e6) }} M) and \
{{ student.n_layers }} layers against {{ teacher.n_layers }}: {{ student.size }} against {{ teacher.size }}.</p>

<h2>Agreement</h2>
<p>Teacher and student give the same label on <b>{{ pct(agree.rate) }}</b> of the sentences
({{ "{:,}".format(agree.teacher_only + agree.student_only) }} disagreements: with two classes, one of the pair is
then wrong).</p>
<table>
<tr><th></th><th>student right</th><th>student wrong</th></tr>
<tr><td>teacher right</td><td>{{ agree.both_right | thousands }}</td><td>{{ agree.teacher_only | thousands }}</td></tr>
<tr><td>teacher wrong</td><td>{{ agree.student_only | thousands }}</td><td>{{ agree.both_wrong | thousands }}</td></tr>
</table>
</body></html>
""")


def accuracy_verdict(agree: Agreement) -> str:
    """Whether the accuracy gap is larger than sampling noise. Both models answered the same sentences, so the
    test is a paired one (exact McNemar); overlapping intervals of the two accuracies would not tell."""
    return f"Student accuracy {paired(agree).describe('the teacher')}"


def summary_html(pair_title: str, dataset: str, teacher: ModelFacts, student: ModelFacts, scores: DatasetScores) -> str:
    """The summary page; the template escapes every piece of user-supplied text (names, paths, file names)."""
    acc_t, acc_s = scores.accuracy("teacher"), scores.accuracy("student")
    cal_t, cal_s = scores.calibration()
    speed_t, speed_s = scores.throughput("teacher"), scores.throughput("student")
    rows = [
        {"role": "Teacher", "facts": teacher, "accuracy": acc_t, "ece": cal_t.ece, "speed": speed_t},
        {"role": "Student", "facts": student, "accuracy": acc_s, "ece": cal_s.ece, "speed": speed_s},
    ]
    return _TEMPLATE.render(
        style=_STYLE,
        pair_title=pair_title,
        dataset=dataset,
        n=len(scores.gold),
        rows=rows,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        verdict=accuracy_verdict(scores.agreement()),
        speed_t=speed_t,
        speed_s=speed_s,
        conditions=speed_t.conditions.describe(),
        run=scores.run.describe(),
        teacher=teacher,
        student=student,
        agree=scores.agreement(),
    )
