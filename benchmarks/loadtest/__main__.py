"""python -m benchmarks.loadtest --sessions N --seconds S: see --help."""

import sys

from benchmarks.loadtest.run import main

sys.exit(main())
