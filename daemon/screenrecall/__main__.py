"""`python -m screenrecall` is the `screenrecall` command."""

import sys

from screenrecall.cli import main

sys.exit(main())
