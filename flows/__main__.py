"""`python -m flows` is `t212-etl`."""

import sys

from flows.app.cli import main

sys.exit(main())
