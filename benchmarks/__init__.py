"""The library behind the dashboard (no Streamlit): `python -m benchmarks` is its command line (cli.py).

Subpackages, lowest first; each imports only from those before it: core -> analysis -> harness | distill |
loadtest -> cli. Each subpackage's docstring says what it holds and what it may import.
"""
