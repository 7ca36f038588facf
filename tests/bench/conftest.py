"""The benchmarks are scripts beside each other, not a package: make them importable."""

from __future__ import annotations

import sys

from techex.stack.stack import REPO

if str(REPO / "bench") not in sys.path:
    sys.path.append(str(REPO / "bench"))
