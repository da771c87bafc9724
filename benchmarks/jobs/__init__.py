"""Jobs: benchmark runs, head importance and live distillation as jobs of one layer (local processes or a Ray cluster).
May import every other subpackage (it runs their work); only the command line imports it."""
