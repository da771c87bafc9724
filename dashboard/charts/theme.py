"""Every colour and series style of the dashboard, so a role or a variant looks the same on every page."""

ROLE_COLOURS = {"teacher": "#4C72B0", "student": "#DD8452"}
ROLE_SCALES = {"teacher": "Blues", "student": "Oranges"}  # heatmaps: the role's hue, light to dark
VARIANT_COLOURS = {"fp32": "#4C72B0", "bf16": "#55A868", "fp16": "#8172B2", "int8-dynamic": "#C44E52",
                   "int8-static": "#937860"}
VARIANT_DASH = {"fp32": "solid", "bf16": "dash", "fp16": "dashdot", "int8-dynamic": "dot", "int8-static": "longdash"}
VARIANT_SYMBOL = {"fp32": "circle", "bf16": "diamond", "fp16": "square", "int8-dynamic": "triangle-up",
                 "int8-static": "triangle-down"}
# Runtimes other than eager: their own marker and bar pattern, so "onnxruntime fp32" never looks like eager fp32.
RUNTIME_SYMBOL = {"compile": "star", "onnxruntime": "hexagon", "openvino": "cross"}
RUNTIME_PATTERN = {"compile": "x", "onnxruntime": ".", "openvino": "+"}
KL_COLOUR, KD_COLOUR = "#8172B3", "#55A868"  # the distillation-loss curves
HARD_COLOUR = "#C44E52"  # the hard-label (cross-entropy) loss
NEUTRAL = "#8172B3"  # one colour for both models where the colour must not say which is which (the lesson)
INIT_FRAME = "#e41a1c"  # the frame around the layer a student layer was initialised from
AGAINST = "#9e9e9e"  # a bar that pushes against the prediction
MARK_COLOUR = "red"  # a marker laid over a heatmap (best-matching head)
INK = "#333"  # outlines and error bars
CEILING = "#444"  # a limit line (the FLOPs ceiling)
GUIDE = "#999"  # a reference line (perfect calibration)
BASELINE = "#bbb"  # the 1.0 line
FRONTIER = "#555"  # the Pareto frontier
RING = "#111"  # the outline of the recommended configuration
BUDGET = "#c00"  # a latency budget line
CONFIG = {"displayModeBar": False}  # Plotly's toolbar adds nothing to these small figures


def rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def series_symbol(variant: str, runtime: str) -> str:
    return VARIANT_SYMBOL[variant] if runtime == "eager" else RUNTIME_SYMBOL[runtime]


def series_pattern(variant: str, runtime: str) -> str:
    return ("" if variant == "fp32" else "/") if runtime == "eager" else RUNTIME_PATTERN[runtime]
