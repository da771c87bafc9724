"""python -m benchmarks {run,list,export,import,distill}: see --help."""

from benchmarks.cli import main

raise SystemExit(main())
