"""Where browser tests leave their screenshots: tests/artifacts (git-ignored), or the folder in
GOVBOT_SCREENS (`GOVBOT_SCREENS=docs/screens` refreshes the pictures the docs show), so a test
run never rewrites tracked files."""

from __future__ import annotations

import os
from pathlib import Path

SCREENS = Path(os.environ.get("GOVBOT_SCREENS") or Path(__file__).resolve().parents[1] / "artifacts")
