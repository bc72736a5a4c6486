"""Files that hold citizens' data are readable by their owner only (0600), from creation on.

The process umask (set by `govbot` at start-up) covers everything it writes; these helpers set
the mode explicitly as well, so a file is private even when the umask of whoever embeds the
code is not: SQLite databases (whose -wal and -shm files take the database file's mode), the
data key, and exports written by the CLI.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077  # new files 0600, new directories 0700
PRIVATE_MODE = 0o600


def private_umask() -> int:
    """Make every file this process creates from now on private; returns the previous umask."""
    return os.umask(PRIVATE_UMASK)


def ensure_private(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist; tighten it to 0600 if it does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_MODE))
    except FileExistsError:
        if path.stat().st_mode & 0o777 != PRIVATE_MODE:
            path.chmod(PRIVATE_MODE)


def write_private(path: Path, data: str | bytes, *, encoding: str = "utf-8") -> None:
    """Write `data` to `path` (replacing it), the file 0600 whatever the umask."""
    ensure_private(path)
    raw = data.encode(encoding) if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "wb") as handle:
        handle.write(raw)
