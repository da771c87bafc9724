"""Loadtest: many headless-browser sessions against a running app, and serving the app under test.
May import core only; run it with `python -m benchmarks.loadtest`."""
