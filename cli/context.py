"""What every `govbot` command shares: the global options, the settings they select, error exits
and progress bars. Sub-command modules import this, never cli.main, so the CLI has no cycles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core.config_model import ConfigError
from core.settings import Settings, load_settings

err = Console(stderr=True)
out = Console()

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where all state lives (env GOVBOT_DATA_DIR, default ./var)."),
]
ConfigPath = Annotated[Path | None, typer.Option("--config", help="config.yml to use (env GOVBOT_CONFIG).")]


@dataclass(frozen=True)
class GlobalOptions:
    """`govbot --data-dir … --config …`, set per invocation by the top-level callback."""

    data_dir: Path | None = None
    config: Path | None = None


_options: ContextVar[GlobalOptions | None] = ContextVar("govbot_cli_options", default=None)


def set_global_options(options: GlobalOptions) -> None:
    """Called by the top-level callback once per invocation, before any sub-command runs."""
    _options.set(options)


def global_options() -> GlobalOptions:
    return _options.get() or GlobalOptions()


def cli_settings(data_dir: Path | None = None) -> Settings:
    """The settings a command runs with: its own --data-dir, else the global one, else the env/file."""
    options = global_options()
    try:
        return load_settings(options.config, data_dir or options.data_dir)
    except ConfigError as exc:
        fail(str(exc))


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@contextmanager
def progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields `advance(n)`."""
    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
