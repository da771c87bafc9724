"""Harness: records, precision variants, measuring one model, the worker processes, sweeps, the sqlite store,
comparisons, peaks, the pipeline baseline and run_pair. May import core and analysis."""
