"""Core: the vocabulary, settings, model pairs and loading, data sets, inference, the device, background runs.
May import only the standard library and third-party packages: nothing else from benchmarks."""
