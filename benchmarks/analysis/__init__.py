"""Analysis: statistics, metrics, losses, scoring, attention and representation analyses over loaded models.
May import benchmarks.core (and the library's top-level settings); never the harness, the CLI or Streamlit."""
