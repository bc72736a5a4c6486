"""`govbot`: the command line. A thin shell around Assistant and the jobs in operations.

Every command accepts --data-dir (or GOVBOT_DATA_DIR); all state lives there.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bot.assistant import Assistant, NotPreparedError
from bot.evaluation import (
    action_correct,
    percentiles,
    rank_of,
    read_eval_tsv,
    retrieval_scores,
)
from bot.messages import UserMessage
from bot.training import calibration_lines, calibration_summary
from cli.calendar import calendar_app, coverage_of
from cli.context import (
    ConfigPath,
    DataDir,
    GlobalOptions,
    cli_settings,
    err,
    fail,
    global_options,
    out,
    progress,
    set_global_options,
)
from cli.keys import keys_app
from cli.report import report_app
from cli.retention import retention_app
from cli.tickets import tickets_app, users_app
from core.files import private_umask, write_private
from core.runtime import apply_runtime, server_answers
from core.settings import WORKERS_ENV, describe
from index.store import IndexNotBuiltError
from knowledge.importers import FORMATS, ImportFormatError, ImportOptions
from knowledge.models import IMPORTABLE, importable_fields
from knowledge.store import KnowledgeStore

if TYPE_CHECKING:
    from jobs.operations import ImportSummary

app = typer.Typer(
    help="govbot: a Chinese government-service assistant (knowledge base, hybrid search, 12345 tickets).",
    no_args_is_help=True,
    add_completion=False,
)
kb_app = typer.Typer(
    help="Knowledge base: import, fields, sources, remove, list, show, stats.", no_args_is_help=True
)
index_app = typer.Typer(help="The hybrid search index.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(index_app, name="index")
app.add_typer(tickets_app, name="tickets")
app.add_typer(users_app, name="users")

app.add_typer(report_app, name="report")
app.add_typer(calendar_app, name="calendar")
app.add_typer(keys_app, name="keys")
app.add_typer(retention_app, name="retention")


@app.callback()
def main(
    ctx: typer.Context, data_dir: DataDir = None, config: ConfigPath = None, verbose: bool = False
) -> None:
    """Options given here apply to every command."""
    private_umask()  # databases, the key file, exports: readable by their owner only
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr)
    set_global_options(GlobalOptions(data_dir=data_dir, config=config))
    apply_runtime(cli_settings().runtime)  # before the encoder and faiss load their thread pools


def _assistant(data_dir: Path | None, *, prepare: bool = True) -> Assistant:
    assistant = Assistant(cli_settings(data_dir))
    if prepare:
        prepare_all(assistant, quiet=True)
    return assistant


def prepare_all(assistant: Assistant, *, quiet: bool = False, index: bool = True) -> None:
    """Bring a fresh data directory to a working state: sample KB, index, models. Without
    `index` the index is built only when training needs it (`serve`: every worker brings its
    index up from the knowledge base itself, with the stored vectors and records)."""
    from jobs.operations import build_kb_index, import_sample, models_trained, train_models

    settings = assistant.settings
    if assistant.kb.count() == 0:
        summary = import_sample(settings, assistant.kb)
        err.print(f"imported the bundled sample knowledge base: {summary.added} items")
    trained = models_trained(settings)
    if not (settings.index_dir / "manifest.json").is_file() and (index or not trained):
        with progress("index build", assistant.kb.count()) as advance:
            build_kb_index(settings, assistant.resources, progress=advance)
    if not trained:
        if not quiet:
            err.print("training intent and category models…")
        train_models(settings, assistant.resources)


# --- knowledge base ------------------------------------------------------------------------
def _fields_help() -> str:
    """Every importable field with its meaning, from the models' own descriptions."""
    lines = []
    for kind in IMPORTABLE:
        fields = "; ".join(
            f"{f.name}{'*' if f.required else ''}: {f.description}" for f in importable_fields(kind)
        )
        lines.append(f"Fields of a {kind} (* required): {fields}.")
    return "\n\n".join(lines)


def _parse_map(pairs: list[str]) -> dict[str, str]:
    """--map OURS=THEIRS pairs; OURS must be one of our field names."""
    valid = {f.name for kind in IMPORTABLE for f in importable_fields(kind)}
    field_map: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            fail(f"--map expects OURS=THEIRS, got {pair!r}", 2)
        ours, theirs = (part.strip() for part in pair.split("=", 1))
        if ours not in valid:
            fail(f"--map {pair!r}: {ours!r} is not a field; valid names: {', '.join(sorted(valid))}", 2)
        field_map[ours] = theirs
    return field_map


def _print_import_summary(summary: ImportSummary) -> None:
    result = summary.result
    for error in result.errors[:50]:
        err.print(f"[yellow]skipped[/yellow] {error}", markup=False, highlight=False)
    if len(result.errors) > 50:
        err.print(f"… and {len(result.errors) - 50} more errors")
    merged = f", {result.merged_duplicates} duplicates merged" if result.merged_duplicates else ""
    err.print(
        f"read {len(result.items)} records ({summary.added} new, {summary.changed} changed{merged}, "
        f"{summary.embedded} embedded), "
        f"{len(result.errors)} rejected"
    )
    kept = result.kept_fields()
    if kept:
        err.print("kept fields: " + ", ".join(f"{k} ({n})" for k, n in kept.most_common()), highlight=False)
    if result.dropped:
        dropped = ", ".join(f"{k} ({n})" for k, n in result.dropped.most_common())
        err.print(
            "dropped keys (not our fields; map them with --map FIELD=KEY, "
            f"see `govbot kb fields`): {dropped}",
            markup=False,
            highlight=False,
        )
    if summary.removed_sample:
        err.print(
            f"[yellow]notice:[/yellow] removed the bundled sample knowledge base ({summary.removed_sample} "
            "items of the fictional 示例市) now that your own data is imported"
        )


@kb_app.command("import", epilog=_fields_help())
def kb_import(
    path: Annotated[Path, typer.Argument(help="File or folder to import.")],
    format: Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")] = "auto",
    map: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="JSONL: read our field OURS from the record's key THEIRS, e.g. name=title (repeat). "
            "Keys that already are field names are kept.",
        ),
    ] = None,
    sample: Annotated[bool, typer.Option(help="Mark the records as sample content.")] = False,
    no_index: Annotated[bool, typer.Option("--no-index", help="Do not update the index.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Import service guides, FAQs or policy documents; bad records are listed, good ones kept.

    Formats: yaml (bundled guide format), md (guide with front matter, or a policy text),
    jsonl (our field names, plus --map for others), gd-catalog (the Guangdong service catalog),
    txt/html/docx/pdf (policy documents, split into citable chunks). The summary lists the
    fields kept and the keys dropped. Importing your own data removes the bundled sample.
    The index is updated incrementally afterwards.
    """
    from jobs.operations import build_kb_index, import_knowledge

    if format not in FORMATS:
        fail(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}", 2)
    field_map = _parse_map(map or [])
    settings = cli_settings(data_dir)
    assistant = Assistant(settings)
    options = ImportOptions(
        field_map=field_map,
        sample=sample,
        chunk_chars=settings.knowledge.chunk_chars,
        chunk_overlap=settings.knowledge.chunk_overlap,
    )
    try:
        summary = import_knowledge(
            assistant.kb,
            path,
            format,
            options,
            encoder=None if no_index else assistant.resources.encoder,
            batch_size=settings.index.embedder.batch_size,
        )
    except ImportFormatError as exc:
        fail(str(exc), 2)
    result = summary.result
    _print_import_summary(summary)
    if not no_index and (summary.added or summary.changed or summary.removed_sample):
        with progress("index update", assistant.kb.count()) as advance:
            report = build_kb_index(settings, assistant.resources, progress=advance)
        err.print(
            f"index: {report.total} items, {report.embedded} embedded, {report.reused} reused "
            f"({report.ann_kind}, {report.seconds}s)"
        )
    if result.errors and not result.items:
        raise typer.Exit(1)


@kb_app.command("fields")
def kb_fields(
    kind: Annotated[str | None, typer.Option(help=f"Only this kind: {' | '.join(IMPORTABLE)}")] = None,
) -> None:
    """List every field a guide or FAQ record may hold, with its meaning (for imports and --map)."""
    if kind is not None and kind not in IMPORTABLE:
        fail(f"unknown kind {kind!r}; choose one of {', '.join(IMPORTABLE)}", 2)
    table = Table("kind", "field", "shape", "required", "meaning")
    for name in [kind] if kind else list(IMPORTABLE):
        for f in importable_fields(name):
            table.add_row(name, f.name, f.shape, "yes" if f.required else "", f.description)
    out.print(table)


@contextmanager
def _knowledge_store(data_dir: Path | None) -> Iterator[KnowledgeStore]:
    """The knowledge base alone: reading it needs no models, index or encoder."""
    kb = KnowledgeStore(cli_settings(data_dir).kb_url)
    try:
        yield kb
    finally:
        kb.close()


@kb_app.command("migrate")
def kb_migrate(data_dir: DataDir = None) -> None:
    """Move the data directory's old kb.sqlite into the shared database (the server also does
    this at start-up); the old file is kept as kb.sqlite.migrated."""
    from jobs.operations import migrate_legacy_kb

    settings = cli_settings(data_dir)
    with _knowledge_store(data_dir) as kb:
        moved = migrate_legacy_kb(settings, kb)
    if moved is None:
        err.print(f"nothing to migrate: no {settings.kb_path}")
    else:
        err.print(f"migrated {moved} items from {settings.kb_path} into the shared database")


@kb_app.command("unpublish")
def kb_unpublish(
    item_id: Annotated[str, typer.Argument(help="Id of the item to take out of answers.")],
    data_dir: DataDir = None,
) -> None:
    """Take an item out of every worker's answers (it stays in the database as unpublished)."""
    with _knowledge_store(data_dir) as kb:
        if not kb.unpublish(item_id):
            fail(f"no published item {item_id!r}", 1)
    err.print(f"unpublished {item_id}; every served index drops it at its next refresh")


@kb_app.command("list")
def kb_list(
    kind: Annotated[str | None, typer.Option(help="guide | faq | chunk")] = None,
    limit: int = 50,
    offset: int = 0,
    data_dir: DataDir = None,
) -> None:
    """List items (id, kind, title)."""
    with _knowledge_store(data_dir) as kb:
        table = Table("id", "kind", "title")
        for row in kb.list_rows(kind, limit, offset):
            table.add_row(*row)
        out.print(table)
        err.print(f"{kb.count()} items in all")


@kb_app.command("show")
def kb_show(
    item_id: str, as_json: Annotated[bool, typer.Option("--json")] = False, data_dir: DataDir = None
) -> None:
    """Show one item with all its fields."""
    with _knowledge_store(data_dir) as kb:
        item = kb.get(item_id)
    if item is None:
        fail(f"no item with id {item_id!r}")
        return
    data = item.model_dump(mode="json", exclude_none=True)
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return
    for key, value in data.items():
        out.print(f"[bold]{key}[/bold]: {value}")


@kb_app.command("sources")
def kb_sources(as_json: Annotated[bool, typer.Option("--json")] = False, data_dir: DataDir = None) -> None:
    """List the knowledge sources: source name, kind, item count, and whether it is sample content."""
    with _knowledge_store(data_dir) as kb:
        rows = kb.sources()
    if as_json:
        keys = ("source", "kind", "count", "sample")
        print(json.dumps([dict(zip(keys, r, strict=True)) for r in rows], ensure_ascii=False, indent=1))
        return
    table = Table("source", "kind", "count", "sample")
    for source, kind, count, sample in rows:
        table.add_row(source or "(none)", kind, str(count), "sample" if sample else "")
    out.print(table)


@kb_app.command("remove")
def kb_remove(
    source: Annotated[str, typer.Option("--source", help="Source name, as `govbot kb sources` shows it.")],
    no_index: Annotated[bool, typer.Option("--no-index", help="Do not update the index.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Remove every item of one knowledge source, then update the index."""
    from jobs.operations import build_kb_index

    settings = cli_settings(data_dir)
    with _knowledge_store(data_dir) as kb:
        known = sorted({row[0] for row in kb.sources()})
        if source not in known:
            fail(f"no source {source!r}; the sources are: {', '.join(known) or '(none)'}", 2)
        removed = kb.remove_source(source)
    err.print(f"removed {removed} items of {source}")
    if not no_index:
        assistant = Assistant(settings)
        if assistant.kb.count():
            report = build_kb_index(settings, assistant.resources)
            err.print(f"index: {report.total} items, {report.removed} removed")
        else:
            err.print("the knowledge base is empty now: import data, then run `govbot index build`")


@kb_app.command("stats")
def kb_stats(data_dir: DataDir = None) -> None:
    """Counts by kind and source, how many guides hold key fields, and the calibration."""
    from bot.training import load_calibration

    with _knowledge_store(data_dir) as kb:
        stats = kb.stats()
    calibration = load_calibration(cli_settings(data_dir).models_dir)
    stats["calibration"] = calibration_summary(calibration) if calibration else None
    print(json.dumps(stats, ensure_ascii=False, indent=1))


# --- index and models ----------------------------------------------------------------------
@index_app.command("build")
def index_build(
    full: Annotated[bool, typer.Option(help="Re-embed everything instead of reusing vectors.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Build or update the hybrid index (dense + BM25 + fuzzy) of the knowledge base."""
    from jobs.operations import build_kb_index, calibrate, import_sample

    settings = cli_settings(data_dir)
    assistant = Assistant(settings)
    if assistant.kb.count() == 0:
        summary = import_sample(settings, assistant.kb)
        err.print(f"knowledge base was empty: imported the bundled sample ({summary.added} items)")
    with progress("embedding", assistant.kb.count()) as advance:
        report = build_kb_index(settings, assistant.resources, progress=advance, full=full)
    err.print(
        f"index: {report.total} items, {report.embedded} embedded, {report.reused} reused, "
        f"{report.removed} removed ({report.ann_kind}, {report.seconds}s)"
    )
    if (settings.models_dir / "calibration.json").is_file():
        calibration = calibrate(settings, assistant.resources)
        err.print("recalibrated on this knowledge base:")
        for line in calibration_lines(calibration):
            err.print(f"  {line}")


@app.command()
def train(
    tickets: Annotated[
        Path | None, typer.Option(help="Historic tickets JSONL (text + category) to learn from.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Train the intent and category classifiers and calibrate the answer threshold."""
    from jobs.operations import train_models

    settings = cli_settings(data_dir)
    assistant = Assistant(settings)
    if tickets is not None and not tickets.is_file():
        fail(f"{tickets}: no such file", 2)
    report = train_models(settings, assistant.resources, tickets=tickets)
    for error in report.errors[:20]:
        err.print(f"[yellow]skipped[/yellow] {error}")
    err.print(
        f"intent examples: {report.intent_examples}; category examples: "
        f"{report.category_examples} authored + {report.ticket_examples} from tickets"
    )
    if report.calibration:
        for line in calibration_lines(report.calibration):
            err.print(line)
    else:
        err.print("no index yet: run `govbot index build`, then `govbot train` to calibrate")


# --- asking --------------------------------------------------------------------------------
def _print_reply(reply: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(reply.model_dump(mode="json"), ensure_ascii=False), flush=True)
        return
    out.print(reply.reply)
    if reply.action in ("answer", "clarify") and reply.sources:
        out.print("[dim]候选：" + "；".join(s.title for s in reply.sources[:5]) + "[/dim]")


@app.command()
def ask(
    text: Annotated[str | None, typer.Argument(help="The question.")] = None,
    session: Annotated[
        str | None,
        typer.Option("--session", help="Session id: reuse it so follow-ups (在哪里办？) refer back."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reply object as JSON.")] = False,
    batch: Annotated[
        Path | None,
        typer.Option(
            "--batch",
            help="File with one question per line ('-' for stdin); one JSON line out each.",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Ask one question, or a batch in one warm process."""
    if text is None and batch is None:
        fail("give a question or --batch FILE", 2)
    try:
        assistant = _assistant(data_dir)
        run_id = session or f"cli-{uuid.uuid4().hex[:12]}"  # no --session: no shared context
        if batch is None:
            _print_reply(assistant.handle(UserMessage(text=text or "", session_id=run_id)), as_json)
            return
        handle = sys.stdin if str(batch) == "-" else batch.open(encoding="utf-8", errors="replace")
        for n, line in enumerate(handle):
            question = line.rstrip("\n")
            reply = assistant.handle(UserMessage(text=question, session_id=f"{run_id}-{n}"))
            _print_reply(reply, True if as_json or batch else as_json)
    except (NotPreparedError, IndexNotBuiltError) as exc:
        fail(str(exc))


@app.command()
def chat(session: str = "terminal", data_dir: DataDir = None) -> None:
    """Talk to the assistant in the terminal (empty line or Ctrl-D to leave)."""
    assistant = _assistant(data_dir)
    out.print("govbot 政务服务助手：请问有什么可以帮您？（空行退出）")
    while True:
        try:
            text = input("> ")
        except EOFError:
            break
        if not text.strip():
            break
        _print_reply(assistant.handle(UserMessage(text=text, session_id=session)), False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (config: server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (config: server.port).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes, each with its own warm engine (config: server.workers)."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Serve the chat API, the web widget (http://HOST:PORT/), channels and agent APIs.

    Prepares a fresh data directory first (sample KB, index, models). With several
    workers, set REDIS_URL so that sessions and rate limits are shared between them.
    """
    import os
    import tempfile

    import uvicorn

    from core.startup import STARTUP
    from server.workers import (
        PortTakenError,
        RestartPolicy,
        claim_port,
        reuseport_balances,
        serve_workers,
    )

    STARTUP.mark("interpreter_and_imports")
    settings = cli_settings(data_dir)
    host, port = host or settings.server.host, port or settings.server.port
    try:  # a taken port fails now, not after preparing and loading the engines
        claim_port(host, port).close()
    except PortTakenError as exc:
        fail(f"cannot listen: {exc.strerror}")
    assistant = Assistant(settings)
    try:
        prepare_all(assistant, quiet=False, index=False)
    finally:
        assistant.close()
    STARTUP.mark("prepare")
    n_workers = workers or settings.server.workers
    settings.server.workers = n_workers
    os.environ[WORKERS_ENV] = str(n_workers)  # the workers' settings say how many they are
    # the workers' OpenMP runtimes size themselves from this environment when they load
    apply_runtime(settings.runtime, answers=server_answers(settings.server))
    os.environ["GOVBOT_DATA_DIR"] = str(settings.data_dir.resolve())
    config_path = global_options().config
    if config_path:
        os.environ["GOVBOT_CONFIG"] = str(Path(config_path).resolve())
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        # only the configured proxies may set the client address (uvicorn trusts loopback by default)
        "forwarded_allow_ips": ",".join(settings.server.forwarded_allow_ips) or "",
        "proxy_headers": bool(settings.server.forwarded_allow_ips),
    }
    listen, metrics_dir = settings.server.listen, None
    if n_workers > 1:
        if not settings.secrets.redis_url:
            err.print("[yellow]note:[/yellow] several workers without REDIS_URL keep separate sessions")
        metrics_dir = os.environ.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="govbot-metrics-")
        )
        if listen == "reuseport" and not reuseport_balances():
            err.print(
                "[yellow]note:[/yellow] this system does not spread connections over SO_REUSEPORT "
                "sockets (server.listen); the workers share one socket"
            )
            listen = "shared"
    if n_workers == 1 or listen == "shared":  # uvicorn's own: one process, or workers on one socket
        uvicorn.run("server.app:create_app", factory=True, workers=n_workers, **options)
        return
    config = uvicorn.Config("server.app:create_app", factory=True, **options)
    policy = RestartPolicy(settings.server.restart_delay_seconds, settings.server.restart_delay_max_seconds)
    try:
        status = serve_workers(config, n_workers, policy, metrics_dir)
    except PortTakenError as exc:  # taken since the check above
        fail(f"cannot listen: {exc.strerror}")
    if status:
        raise typer.Exit(status)


@app.command(name="eval")
def evaluate(
    file: Annotated[Path, typer.Argument(help="TSV: kind<TAB>question<TAB>expected.")],
    json_out: Annotated[Path | None, typer.Option(help="Also write per-row results here.")] = None,
    data_dir: DataDir = None,
) -> None:
    """hit@1, hit@5, MRR on kb rows; action and category accuracy on the others; latency."""
    try:
        rows = read_eval_tsv(file)
    except (OSError, ValueError) as exc:
        fail(str(exc), 2)
        return
    assistant = _assistant(data_dir)
    run_id = f"eval-{uuid.uuid4().hex[:12]}"  # every question starts a fresh conversation
    ranks, latencies, details = [], [], []
    actions_ok = actions_n = cats_ok = cats_n = 0
    for n, row in enumerate(rows):
        started = time.perf_counter()
        reply = assistant.handle(UserMessage(text=row.question, session_id=f"{run_id}-{n}"))
        latencies.append((time.perf_counter() - started) * 1000)
        titles = [s.title for s in reply.sources]
        detail: dict[str, Any] = {
            "line": row.line,
            "kind": row.kind,
            "question": row.question,
            "action": reply.action,
            "intent": reply.intent,
        }
        if row.kind == "kb":
            rank = rank_of(titles[:10], row.expected)
            ranks.append(rank)
            detail.update(rank=rank, top=titles[:3], expected=row.expected)
        else:
            ok = action_correct(row, reply.action, reply.intent)
            actions_ok += ok
            actions_n += 1
            detail["action_ok"] = ok
            if row.kind == "ticket":
                cats_n += 1
                cats_ok += reply.category in row.expected
                detail.update(category=reply.category, expected=row.expected)
        details.append(detail)
    scores = retrieval_scores(ranks)
    p50, p95 = percentiles(latencies)
    table = Table("metric", "value", title=f"govbot eval {file.name}")
    table.add_row("kb questions", str(scores.n))
    table.add_row("hit@1", f"{scores.hit1:.3f}")
    table.add_row("hit@5", f"{scores.hit5:.3f}")
    table.add_row("MRR", f"{scores.mrr:.3f}")
    table.add_row("action accuracy", f"{actions_ok / actions_n:.3f} ({actions_n})" if actions_n else "-")
    table.add_row("category accuracy", f"{cats_ok / cats_n:.3f} ({cats_n})" if cats_n else "-")
    table.add_row("latency p50 ms", f"{p50:.1f}")
    table.add_row("latency p95 ms", f"{p95:.1f}")
    out.print(table)
    if json_out:
        write_private(json_out, "\n".join(json.dumps(d, ensure_ascii=False) for d in details) + "\n")


@app.command()
def config(data_dir: DataDir = None) -> None:
    """Show the settings in force and the active NLU pipeline."""
    settings = cli_settings(data_dir)
    shown = describe(settings)
    shown["calendar"] = coverage_of(settings)  # up to which day the official holidays are known
    print(json.dumps(shown, ensure_ascii=False, indent=1))


if __name__ == "__main__":  # pragma: no cover
    app()
