"""Fixtures of the alert tests: the hub tests' broker, and their helpers on the path."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# Starlette's test client still works on httpx; the warning names a successor not needed here.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
import starlette.testclient  # noqa: E402,F401  (imported once, under the filter above)
