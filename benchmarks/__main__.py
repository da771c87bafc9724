"""python -m benchmarks {run,list,export,import,repeat,heads,vs-pipeline,distill,live-distill}: see --help."""

from benchmarks.cli import main

raise SystemExit(main())
