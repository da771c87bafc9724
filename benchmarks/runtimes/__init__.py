"""Runtimes: eager PyTorch, torch.compile, ONNX Runtime and OpenVINO behind one small interface, with cached artefacts.
May import benchmarks.core; never analysis, harness, distill, loadtest, the CLI or Streamlit."""
