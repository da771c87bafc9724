"""The review pack: one self-contained HTML file that carries a model-selection decision to a review.

Offline by construction: Jinja2 with autoescaping (every name, label and path is text, never markup), styles
inline, the frontier chart as inline SVG plus a PNG in a data: URI, both drawn by matplotlib. Nothing in it
makes a browser fetch anything (no src/href/url() to another place); the only URLs are the XML namespace names
of the SVG, which browsers never fetch.
"""

from __future__ import annotations

import base64
import io
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version

import jinja2
from markupsafe import Markup
from matplotlib.figure import Figure

from benchmarks.analysis.cost import cost_note
from benchmarks.analysis.stats import INTERVAL_METHOD, Flips
from benchmarks.analysis.verdict import Decision, Verdict

TEACHER_COLOUR, STUDENT_COLOUR = "#4C72B0", "#DD8452"  # as on the dashboard's pages
PACKAGES = ("torch", "transformers", "scipy", "numpy", "streamlit", "plotly", "matplotlib", "jinja2")


@dataclass(frozen=True)
class Provenance:
    machine: str  # hardware label
    machine_fingerprint: str
    measured: str  # software and settings the latencies were measured with
    data: str  # the labelled set accuracy comes from
    data_hash: str


def software_versions() -> dict[str, str]:
    """Versions of what produced this pack (the measurements carry their own)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def frontier_figure(decision: Decision) -> Figure:
    """Accuracy (or, without any, peak memory) against latency, bubble area = weight size; the frontier joined and
    named, the recommendation ringed and named; the others unnamed, so labels never pile up (the table names
    them)."""
    k, memory = decision.constraints, decision.axis == "memory"
    fig = Figure(figsize=(7.5, 4.2), dpi=110)
    ax = fig.subplots()
    shown = [v for v in decision.verdicts if v.candidate.latency_ms is not None and (memory or v.candidate.accuracy)]

    def y(v: Verdict) -> float:
        return v.candidate.memory_mb if memory else v.candidate.accuracy.value * 100  # type: ignore[union-attr]

    for v in shown:
        c, acc = v.candidate, v.candidate.accuracy
        assert c.latency_ms is not None
        colour = TEACHER_COLOUR if c.role == "teacher" else STUDENT_COLOUR
        if not memory and acc is not None:
            ax.errorbar(c.latency_ms, y(v), yerr=[[(acc.value - acc.low) * 100], [(acc.high - acc.value) * 100]],
                        fmt="none", ecolor="#999", elinewidth=0.8, zorder=1)
        ax.scatter(c.latency_ms, y(v), s=20 + 4 * c.size_mb, color=colour, alpha=0.85 if v.fits else 0.3,
                   edgecolors="black" if v is decision.recommendation else "none", linewidths=2, zorder=2)
    named = sorted((v for v in shown if v.pareto or v is decision.recommendation),
                   key=lambda v: v.candidate.latency_ms)  # type: ignore[arg-type, return-value]
    for i, v in enumerate(named):  # above and below in turn: neighbours on the frontier sit close
        ax.annotate(v.candidate.name, (v.candidate.latency_ms, y(v)), textcoords="offset points",  # type: ignore[arg-type]
                    xytext=(6, 8 if i % 2 == 0 else -14), fontsize=8)
    front = sorted((v.candidate.latency_ms, y(v)) for v in shown if v.pareto)  # type: ignore[misc]
    if front:
        ax.plot([x for x, _ in front], [y for _, y in front], color="#555", linestyle="--", linewidth=1, zorder=0,
                label="Pareto frontier")
        ax.legend(loc="upper right" if memory else "lower right", fontsize=8)
    if k.budget_ms is not None:
        ax.axvline(k.budget_ms, color="#c00", linewidth=1)
    ax.margins(0.12)  # room for the bubbles, whose size autoscaling does not see
    ax.set_xlim(left=0)
    if memory:
        ax.set_ylim(bottom=0)
    ax.set_xlabel(f"{k.percentile} latency at batch {k.batch} × {k.seq_len} tokens, model only (ms)")
    ax.set_ylabel("peak memory while running (MiB)" if memory else "accuracy (%) with 95 % interval")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    # No metadata block: it would add Dublin Core URLs; glyphs as paths: no font files to fetch.
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _row(rank: int | None, v: Verdict, accuracy: bool, cost: bool) -> dict[str, str]:
    """One ranking-table row, keyed by column header, every figure as display text; the accuracy columns only when
    something has an accuracy, the cost only with a price."""
    c, acc, vs, sp = v.candidate, v.candidate.accuracy, v.vs_teacher, v.speedup
    row = {
        "rank": str(rank) if rank else "–",
        "configuration": c.name,
        "excluded by": "; ".join(f.text for f in v.failures),
        "latency": "–" if c.latency_ms is None else f"{c.latency_ms:.1f} ms" + (" (bound)" if c.latency_note else ""),
    }
    if accuracy:
        row |= {
            "accuracy [95 %]": "–" if acc is None else f"{acc.value:.1%} [{acc.low:.1%}, {acc.high:.1%}]",
            "vs teacher fp32 [paired 95 %], McNemar p (discordant)": "–"
            if vs is None
            else f"{vs.difference * 100:+.1f} pp [{vs.low * 100:+.1f}, {vs.high * 100:+.1f}], p = {vs.p_value:.3g} "
            f"({vs.only_candidate} vs {vs.only_baseline})" + (" · within noise" if vs.within_noise else ""),
        }
    row |= {
        "speed-up vs teacher fp32 (eager) [95 %]": "–"
        if sp is None
        else sp.interval() + (" · within noise" if sp.within_noise else ""),
        "peak memory": f"{c.memory_mb:.0f} MiB",
        "weights": f"{c.size_mb:.1f} MiB",
    }
    if cost:
        row["cost / 1M sentences"] = "–" if v.cost is None else f"{v.cost:,.4g}"
    row |= {"Pareto": "yes" if v.pareto else "", "model, runtime": f"{c.model}, {c.runtime_label}"}
    return row


def ranking_rows(decision: Decision) -> list[dict[str, str]]:
    """Those that fit, best first and numbered, then the excluded with the constraints that excluded them."""
    accuracy, cost = decision.axis == "accuracy", decision.constraints.price_per_hour is not None
    return ([_row(i, v, accuracy, cost) for i, v in enumerate(decision.ranked, start=1)]
            + [_row(None, v, accuracy, cost) for v in decision.excluded])


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Model selection: review pack</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
.note { color: #555; font-size: .9em; } .rec { background: #eef7ee; border: 1px solid #9c9; padding: .6em 1em; }
.none { background: #fdf3e7; border: 1px solid #e0b070; padding: .6em 1em; } svg { max-width: 100%; height: auto; }
</style></head>
<body>
<h1>Model selection: review pack</h1>
<p class="note">Generated {{ generated }} by the teacher-vs-student dashboard. Self-contained: it loads nothing from
anywhere.</p>

<h2>Constraints</h2>
<p>{{ constraints }}</p>
<p class="note">Hardware: {{ prov.machine }} (fingerprint {{ prov.machine_fingerprint }}).</p>

<h2>Recommendation</h2>
{% if recommendation %}
<div class="rec"><p><b>{{ recommendation }}</b></p><ul>{% for r in reasons %}<li>{{ r }}</li>{% endfor %}</ul></div>
{% else %}
<div class="none"><p><b>Nothing measured meets these constraints.</b></p>
<ul>{% for r in relax %}<li>{{ r }}</li>{% endfor %}</ul></div>
{% endif %}

<h2>Ranking</h2>
<table>
<tr>{% for h in rows[0] %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in rows %}<tr>{% for v in r.values() %}<td>{{ v }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% for note in latency_notes %}<p class="note">{{ note }}</p>{% endfor %}
{% if cost_note %}<p class="note">{{ cost_note }}</p>{% endif %}

<h2>Frontier</h2>
{{ svg }}
<p class="note">{{ axis_note }} Bubble area: size of the weights. Ringed: the recommendation; faded: excluded. Dashed:
the Pareto frontier; only it and the recommendation are named (the ranking names every point). Red line: the latency
budget. The same chart as PNG:</p>
<img alt="accuracy against latency" width="660" src="{{ png }}">

<h2>Precision and runtime drift</h2>
{% if flips %}<table><tr><th>setup</th><th>against</th><th>answers changed [95 %]</th><th>sentences</th></tr>
{% for f in flips %}<tr><td>{{ f.name }}</td><td>{{ f.reference }}</td><td>{{ f.rate }}</td><td>{{ f.where }}</td></tr>
{% endfor %}</table>{% else %}<p>No precision or runtime with eager fp32 predictions of the same model to
compare with.</p>{% endif %}

<h2>Statistics</h2>
<p class="note">Accuracy: share of the labelled sentences right, Wilson 95 % interval. Against the teacher: both models
answered the same sentences, so the comparison is paired — the exact McNemar test (two-sided binomial test on the
discordant sentences) and Newcombe's square-and-add interval for the difference of paired proportions (method 10,
1998). "Within noise" is said only where p ≥ 0.05 or a speed-up interval holds 1.0 (at the margin the
interval can exclude 0 while p is just above 0.05: two methods; the verdict follows the test). Speed-up: teacher fp32
time over the candidate's at the chosen cell, from each sweep's p50, with a {{ interval_method }}: "paired" where both
were measured taking turns in one run (the mean of the sweep-by-sweep log ratios, a t-interval with sweeps − 1 degrees
of freedom), "unpaired" otherwise (Welch's interval of the difference of the two sides' mean log times). Valid with
three sweeps, where a bootstrap is not; few sweeps still give a wide interval. "No interval" where the records kept no
per-sweep timings: then the figure is the ratio of the two p50s. Latency: model-only forward pass.</p>

<h2>Provenance</h2>
<table>
<tr><th>hardware</th><td>{{ prov.machine }} · fingerprint {{ prov.machine_fingerprint }}</td></tr>
<tr><th>measured with</th><td>{{ prov.measured }}</td></tr>
<tr><th>accuracy data</th><td>{{ prov.data }} · content hash {{ prov.data_hash }}</td></tr>
<tr><th>this pack made with</th><td>{% for k, v in software.items() -%}
{{ k }} {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
</table>
</body></html>
"""
_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def review_pack(decision: Decision, flips: list[Flips], prov: Provenance, texts_per_flip: int = 20) -> str:
    """The whole pack as one HTML string."""
    fig = frontier_figure(decision)
    k, rec = decision.constraints, decision.recommendation
    rows = ranking_rows(decision)
    notes = sorted({v.candidate.latency_note for v in decision.verdicts if v.candidate.latency_note})
    return _ENV.from_string(_TEMPLATE).render(
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        constraints=decision.constraints.describe(),
        prov=prov,
        software=software_versions(),
        recommendation=f"{rec.candidate.name} ({rec.candidate.model}, {rec.candidate.runtime_label})" if rec else "",
        reasons=decision.reasons,
        relax=decision.relax,
        rows=rows,
        latency_notes=notes,
        cost_note=cost_note(k.price_per_hour, k.batch, k.seq_len, prov.machine) if k.price_per_hour is not None else "",
        interval_method=INTERVAL_METHOD,
        axis_note=("Nothing here has an accuracy measured, so the chart sets peak memory against latency."
                   if decision.axis == "memory" else ""),
        svg=Markup(_svg(fig)),
        png=_png(fig),
        flips=[
            {
                "name": f.candidate,
                "reference": f.reference,
                "rate": f"{f.rate.value:.1%} [{f.rate.low:.1%}, {f.rate.high:.1%}] ({len(f.indices)} of {f.rate.n})",
                "where": ", ".join(f"#{i + 1}" for i in f.indices[:texts_per_flip])
                + (" …" if len(f.indices) > texts_per_flip else ""),
            }
            for f in flips
        ],
    )
