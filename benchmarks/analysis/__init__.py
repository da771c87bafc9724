"""Analysis: statistics, metrics, losses, dataset scoring, attention, similarity and reports over loaded models.
May import benchmarks.core; never harness, distill, loadtest, the CLI or Streamlit."""
