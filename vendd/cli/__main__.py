"""`python -m vendd.cli`: the `vendd` command without the installed script."""

import sys

from vendd.cli import main

sys.exit(main())
