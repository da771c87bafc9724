"""Analysis: statistics, metrics, losses, dataset scoring, attention, attributions, head masking, lessons, reports.
May import benchmarks.core; never harness, distill, loadtest, the CLI or Streamlit."""
