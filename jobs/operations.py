"""The long-running jobs behind the CLI: import, index build, train, calibrate.

Each takes what it needs and reports progress through a callback, so the CLI
draws a progress bar and the server (later) can run the same jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.policy import Calibration
from bot.resources import CATEGORIES_FILE, Resources
from bot.training import (
    CALIBRATION_FILE,
    choose_threshold,
    load_category_examples,
    load_ticket_examples,
    save_calibration,
    train_classifier,
)
from core.settings import Settings
from index.builder import BuildReport, build_index, vectors_for
from index.encoders import Encoder
from index.lexical import lexicon_key
from index.retriever import Hit, HybridRetriever
from knowledge.importers import ImportOptions, ImportResult, import_path
from knowledge.store import KnowledgeStore
from nlu.classifier import TextClassifier
from nlu.normalize import normalize_text
from nlu.tokenize import add_user_words

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


@dataclass
class ImportSummary:
    result: ImportResult
    added: int
    changed: int
    embedded: int = 0  # vectors stored with the items in the import's transaction
    removed_sample: int = 0  # bundled sample items removed because the operator's own data arrived


def import_knowledge(
    kb: KnowledgeStore,
    path: Path,
    fmt: str,
    options: ImportOptions,
    *,
    encoder: Encoder | None = None,
    batch_size: int = 64,
) -> ImportSummary:
    """Import a file or folder; good records are stored in one transaction, with the vectors
    of what changed when an `encoder` is given (so no worker re-embeds them).

    The bundled sample only stands in for an empty knowledge base: once the operator's own
    records arrive it is removed, so fictional 示例市 content never answers next to real data.
    """
    result = import_path(path, fmt, options)
    vectors = None
    if encoder is not None and result.items:
        known = kb.stored_vectors(encoder.name)
        hashes = kb.hashes()
        changed_items = [i for i in result.items if hashes.get(i.id) != i.content_hash()]
        vectors = vectors_for(changed_items, encoder, known, batch_size)
    added, changed = kb.upsert_many(result.items, vectors)
    removed = kb.remove_sample() if result.items and not options.sample else 0
    return ImportSummary(result, added, changed, len(vectors or {}), removed)


def migrate_legacy_kb(settings: Settings, kb: KnowledgeStore) -> int | None:
    """Move the data directory's old kb.sqlite into the shared database (None: nothing to do)."""
    from knowledge.legacy import migrate_legacy

    return migrate_legacy(settings.kb_path, kb)


def import_sample(settings: Settings, kb: KnowledgeStore) -> ImportSummary:
    """Load the bundled sample, only ever into an empty knowledge base."""
    if kb.count():
        return ImportSummary(ImportResult(), 0, 0)
    folder = settings.resolve(settings.knowledge.sample_dir)
    options = ImportOptions(sample=True, chunk_chars=settings.knowledge.chunk_chars)
    return import_knowledge(kb, folder, "auto", options)


def ann_params(settings: Settings) -> dict[str, Any]:
    index = settings.index
    return {
        "flat_max": index.flat_max,
        "hnsw_max": index.hnsw_max,
        "m": index.hnsw_m,
        "ef_search": index.hnsw_ef_search,
        "nprobe": index.ivf_nprobe,
    }


def build_kb_index(
    settings: Settings,
    resources: Resources,
    *,
    progress: Progress | None = None,
    full: bool = False,
) -> BuildReport:
    """(Re)build the index; only new or changed items are embedded unless `full` (vectors the
    knowledge base stores are reused, and new ones stored there)."""
    add_user_words(resources.domain_words())
    lexicon = lexicon_key()  # after the user words: they change how texts are segmented
    kb = resources.kb
    version = kb.version()  # read before the items: a change meanwhile is applied again, not lost
    report = build_index(
        kb.iter_items(),
        resources.encoder,
        settings.index_dir,
        ann_params=ann_params(settings),
        batch_size=settings.index.embedder.batch_size,
        progress=progress,
        full=full,
        known=kb.stored_vectors(resources.encoder.name),
        known_records=kb.stored_records(lexicon),
        manifest_extra={"kb_version": version, "kb_id": kb.kb_id()},
    )
    if report.fresh:
        kb.save_vectors(report.fresh)
    kb.save_records(report.fresh_records, lexicon)  # the next machine reuses the terms
    return report


@dataclass
class TrainReport:
    intent_examples: int
    category_examples: int
    ticket_examples: int
    calibration: Calibration | None
    errors: list[str] = field(default_factory=list)


COMPLAINT_EXAMPLES_PER_CATEGORY = 12


def _first_per_label(texts: list[str], labels: list[str], limit: int) -> list[str]:
    seen: dict[str, int] = {}
    kept = []
    for text, label in zip(texts, labels, strict=True):
        if seen.get(label, 0) < limit:
            kept.append(text)
            seen[label] = seen.get(label, 0) + 1
    return kept


def _embed(resources: Resources, texts: list[str]) -> np.ndarray:
    return resources.encoder.encode_queries(texts)


def models_trained(settings: Settings) -> bool:
    """Both classifiers and the calibration are in the models folder (in whichever form
    TextClassifier loads), so a start can skip training."""
    models = settings.models_dir
    return (
        TextClassifier.saved_in(models / "intent")
        and TextClassifier.saved_in(models / "category")
        and (models / CALIBRATION_FILE).is_file()
    )


def train_models(settings: Settings, resources: Resources, *, tickets: Path | None = None) -> TrainReport:
    """Train intent and category classifiers, then calibrate the answer threshold."""
    data = resources.nlu_data
    add_user_words(resources.domain_words())  # the word features segment as the served pipeline does
    cat_texts, cat_labels = load_category_examples(CATEGORIES_FILE)
    texts, labels = [], []
    for intent, examples in data.intents.items():
        for example in examples:
            texts.append(normalize_text(example))
            labels.append(intent)
    # Every authored category example is a complaint or request too: a few of each
    # category teach the intent model the many kinds of 诉求 without drowning ask_service.
    per_category = _first_per_label(cat_texts, cat_labels, COMPLAINT_EXAMPLES_PER_CATEGORY)
    texts += per_category
    labels += ["complaint"] * len(per_category)
    train_classifier(
        texts, labels, _embed(resources, texts), settings.models_dir / "intent", features="chars"
    )

    errors: list[str] = []
    ticket_count = 0
    if tickets is not None:
        t_texts, t_labels, errors = load_ticket_examples(tickets)
        ticket_count = len(t_texts)
        cat_texts += t_texts
        cat_labels += t_labels
    select_on = [False] * (len(cat_texts) - ticket_count) + [True] * ticket_count
    train_classifier(
        cat_texts,
        cat_labels,
        _embed(resources, cat_texts),
        settings.models_dir / "category",
        select_on=select_on if ticket_count else None,
    )
    calibration = calibrate(settings, resources) if settings.index_dir.exists() else None
    return TrainReport(len(texts), len(cat_texts) - ticket_count, ticket_count, calibration, errors)


def calibrate(settings: Settings, resources: Resources) -> Calibration:
    """Answer / clarify / abstain thresholds for this knowledge base, from its own items.

    The confidence model and thresholds come from probes made from the corpus
    (bot/calibration.py; targets in config.yml's DecisionPolicy). The dense-score threshold
    of the built-in examples (ask_service and FAQ questions vs out_of_scope) is kept as the
    fallback rule and for comparison. Written to the models folder.
    """
    from bot.calibration import calibrate_levels, group_of, make_probes, observe
    from bot.policy import PolicyConfig
    from nlu.pipeline import Pipeline

    retriever = HybridRetriever.load(settings.index_dir, settings.index)
    data = resources.nlu_data
    inside = [normalize_text(t) for t in data.intents.get("ask_service", [])]
    inside += [normalize_text(getattr(i, "question", "")) for i in resources.kb.iter_items("faq")]
    outside = [normalize_text(t) for t in data.intents.get("out_of_scope", [])]
    inside = [t for t in inside if t]

    def best_scores(texts: list[str]) -> list[float]:
        vectors = _embed(resources, texts)
        return [float(retriever.dense_scores(v).max()) for v in vectors]

    in_scores, out_scores = best_scores(inside), best_scores(outside)
    policy = settings.policy(PolicyConfig)
    pipeline = Pipeline.from_config(settings.pipeline, resources)
    top_k = max(settings.index.top_k, settings.bot.min_sources)

    def rank(text: str) -> list[Hit]:
        message = pipeline.parse(text)
        if message.embedding is None:
            message.embedding = resources.embed_query(message.search_text)
        return retriever.search(
            text=message.text, search_text=message.search_text, vector=message.embedding, top_k=top_k
        )

    items = list(resources.kb.iter_items())
    groups = {item.id: group_of(item) for item in items}
    probes = make_probes(items, policy.calibration_items)
    rows = observe(probes, outside, rank, groups, policy.unsure_options)
    try:
        levels = calibrate_levels(
            rows,
            wrong_target=policy.wrong_answer_target,
            unanswerable_target=policy.unanswerable_answer_target,
            abstain_max=policy.abstain_max,
        )
    except ValueError as exc:  # too few items to tell right from wrong: keep the dense threshold
        levels = None
        log.warning("calibration.fallback", extra={"reason": str(exc)})
    calibration = Calibration(
        dense_min=round(choose_threshold(in_scores, out_scores), 4),
        measured_on={
            "in_scope": len(in_scores),
            "out_of_scope": len(out_scores),
            "probes": len(probes),
            "items": len({p.item_id for p in probes}),
        },
    )
    if levels is not None:
        calibration.model = levels.model
        calibration.answer_min, calibration.clarify_min = levels.answer_min, levels.clarify_min
        calibration.measured = levels.measured
    save_calibration(settings.models_dir, calibration)
    return calibration
