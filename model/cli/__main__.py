"""python -m model.cli ...: the same as `multigrid ...` (torchrun needs a module)."""

import sys

from model.cli.main import main

sys.exit(main())
