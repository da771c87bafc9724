"""Core: the vocabulary, settings, model pairs and loading, data sets, inference, the device and its identity.
May import only the standard library and third-party packages: nothing else from benchmarks."""
