"""Only core/settings.py reads the environment for configuration; everything else gets settings."""

from __future__ import annotations

import ast
from pathlib import Path

from core.settings import PROJECT_ROOT

PACKAGES = ("core", "nlu", "knowledge", "index", "tickets", "bot", "connectors", "jobs", "server", "cli")
READER = Path("core/settings.py")
# Not govbot's configuration: prometheus_client's own multi-process switch, which `govbot serve`
# sets for its workers and prometheus_client reads as well.
ALLOWED = {(Path("server/metrics.py"), "PROMETHEUS_MULTIPROC_DIR")}


def _reads(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, variable) for os.environ.get/[...]/in and os.getenv; writes (x[k] = v, setdefault) pass."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = ast.unparse(node.func)
            if target in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
                name = node.args[0] if node.args else None
                found.append((node.lineno, ast.literal_eval(name) if isinstance(name, ast.Constant) else "?"))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if ast.unparse(node.value) in ("os.environ", "environ"):
                key = node.slice
                found.append((node.lineno, key.value if isinstance(key, ast.Constant) else "?"))
        elif isinstance(node, ast.Call) and any(ast.unparse(arg) == "os.environ" for arg in node.args):
            found.append((node.lineno, "*"))  # dict(os.environ), a helper given the whole environment
        elif isinstance(node, ast.Compare) and any(ast.unparse(c) == "os.environ" for c in node.comparators):
            found.append((node.lineno, ast.unparse(node.left)))
    return found


def test_only_core_settings_reads_the_environment() -> None:
    offenders = []
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            relative = path.relative_to(PROJECT_ROOT)
            if relative == READER:
                continue
            for line, name in _reads(ast.parse(path.read_text(encoding="utf-8"))):
                if (relative, name) not in ALLOWED:
                    offenders.append(f"{relative}:{line} reads {name}")
    assert offenders == []


def test_the_check_sees_each_kind_of_read() -> None:
    code = (
        "import os\n"
        "a = os.environ.get('A')\n"
        "b = os.environ['B']\n"
        "c = os.getenv('C')\n"
        "d = 'D' in os.environ\n"
        "e = dict(os.environ)\n"
        "os.environ['W'] = '1'\n"
        "os.environ.setdefault('X', '1')\n"
    )
    assert _reads(ast.parse(code)) == [(2, "A"), (3, "B"), (4, "C"), (5, "'D'"), (6, "*")]
