"""python -m benchmarks.loadtest --sessions N --seconds S [--json OUT]: see --help."""

import sys

if "--browser" not in sys.argv[1:]:
    # Locust's gevent patches the standard library when imported; it must come before anything else imports it.
    import locust  # noqa: F401

from benchmarks.loadtest.cli import main  # noqa: E402

sys.exit(main())
