"""The analyze stage: one encoder pass per post, every task model on it, results stored.

A post is selected when it lacks an embedding from the current encoder or a label from
a current task model, so a second run does nothing unless a model changed. Posts without
text (bare reposts) are skipped. Each chunk of posts is stored in one transaction.

When only a head changed and it reads nothing but the stored sentence embedding (plus
text features), the stored embeddings are reused: no encoder pass at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from analysis.encoder import EncodedBatch, Encoder
from analysis.language import detect_languages
from analysis.tasks import TASKS, load_classifier
from hypewatch.settings import Settings
from warehouse.writes import analysis_run, embeddings_table, labels_table, store_analysis, utcnow

Progress = Callable[[int], None]


@dataclass
class AnalyzeReport:
    posts: int = 0
    encoded: int = 0
    embeddings_stored: int = 0
    labels_stored: int = 0
    seconds: float = 0.0
    device: str = ""
    backend: str = ""
    encoder_id: str = ""
    model_ids: dict[str, str] = field(default_factory=dict)

    @property
    def posts_per_s(self) -> float:
        return self.posts / self.seconds if self.seconds else 0.0


@dataclass
class _Pending:
    post_ids: list[str]
    texts: list[str]
    has_embedding: np.ndarray  # bool per post
    has_label: dict[str, np.ndarray]  # task -> bool per post


def pending_posts(
    con: duckdb.DuckDBPyConnection, encoder_id: str, models: dict[str, str], campaign: str | None
) -> _Pending:
    """Posts with text that miss the current embedding or any current label."""
    joins, flags = [], []
    for i, task in enumerate(models):
        joins.append(
            f"LEFT JOIN (SELECT post_id FROM labels WHERE task = '{task}' AND model_id = ${i + 3})"
            f" l{i} USING (post_id)"
        )
        flags.append(f"l{i}.post_id IS NOT NULL AS has_{i}")
    table = con.sql(
        f"""
        SELECT * FROM (
            SELECT p.post_id, p.text, e.post_id IS NOT NULL AS has_embedding
                   {"".join(", " + f for f in flags)}
            FROM posts p
            LEFT JOIN (SELECT post_id FROM embeddings WHERE model_id = $1) e USING (post_id)
            {" ".join(joins)}
            WHERE ($2::VARCHAR IS NULL OR p.campaign = $2) AND length(trim(p.text)) > 0
        )
        WHERE NOT (has_embedding {"".join(f" AND has_{i}" for i in range(len(models)))})
        ORDER BY post_id
        """,
        params=[encoder_id, campaign, *models.values()],
    ).to_arrow_table()
    return _Pending(
        post_ids=table["post_id"].to_pylist(),
        texts=table["text"].to_pylist(),
        has_embedding=table["has_embedding"].to_numpy(zero_copy_only=False),
        has_label={
            task: table[f"has_{i}"].to_numpy(zero_copy_only=False) for i, task in enumerate(models)
        },
    )


def stored_embeddings(
    con: duckdb.DuckDBPyConnection, post_ids: Sequence[str], encoder_id: str
) -> np.ndarray:
    """The stored embeddings of ``post_ids`` (in that order) for one encoder."""
    con.register("_want", pa.table({"post_id": list(post_ids), "i": range(len(post_ids))}))
    try:
        table = con.sql(
            "SELECT e.embedding FROM _want w JOIN embeddings e "
            "ON e.post_id = w.post_id AND e.model_id = ? ORDER BY w.i",
            params=[encoder_id],
        ).to_arrow_table()
    finally:
        con.unregister("_want")
    column = table["embedding"].combine_chunks()
    return column.flatten().to_numpy().reshape(len(column), -1)


@dataclass
class Models:
    """The encoder and task heads one analyze run uses (loaded once per process or actor)."""

    encoder: Encoder
    classifiers: dict

    @property
    def model_ids(self) -> dict[str, str]:
        return {task: c.model_id for task, c in self.classifiers.items()}

    @property
    def needs_views(self) -> bool:
        """Whether a head reads more than the stored sentence embedding (then every chunk
        is encoded, even when its embeddings are stored)."""
        return any(getattr(c, "needs_encoder_views", False) for c in self.classifiers.values())


def load_models(
    settings: Settings, device: str | None = None, threads: int | None = None
) -> Models:
    """The encoder and the current head of every task, as the settings name them
    (``threads``: CPU threads of the encoder; default: all cores)."""
    encoder = make_encoder(settings, device, threads)
    classifiers = {
        task: load_classifier(
            task,
            getattr(settings, f"{task}_model"),
            device=encoder.device,
            allow_download=settings.allow_model_download,
            encoder_name=encoder.info.name,
        )
        for task in TASKS
    }
    return Models(encoder, classifiers)


def annotate_chunk(
    models: Models,
    ids: list[str],
    texts: list[str],
    has_embedding: np.ndarray,
    has_label: dict[str, np.ndarray],
    *,
    batch: int | None,
    stored: Callable[[], np.ndarray] | None = None,
) -> tuple[pa.Table, list[pa.Table], bool]:
    """One chunk of pending posts: the embeddings and labels it lacks, as the tables
    ``store_analysis`` takes, and whether the encoder ran.

    ``stored`` gives the chunk's stored embeddings when all of them are stored and no head
    needs more than that (only a head changed): then nothing is encoded. Both engines
    (local, Ray) call this on the same chunks, so they store the same rows.
    """
    encoder = models.encoder
    if stored is None or models.needs_views or not has_embedding.all():
        encoded, ran = encoder.encode(texts, batch), True
    else:
        encoded, ran = EncodedBatch(stored()), False
    new = ~has_embedding
    at = utcnow()
    emb = embeddings_table(
        [i for i, keep in zip(ids, new, strict=True) if keep],
        encoder.model_id,
        encoded.embeddings[new],
        at,
    )
    label_tables = []
    for task, classifier in models.classifiers.items():
        rows = np.flatnonzero(~has_label[task])
        if not len(rows):
            continue
        labels, probs = classifier.classify(encoded.subset(rows), [texts[r] for r in rows])
        label_tables.append(
            labels_table(
                [ids[r] for r in rows],
                task,
                classifier.model_id,
                labels,
                probs,
                classifier.labels,
                at,
            )
        )
    return emb, label_tables, ran


def analyze(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    campaign: str | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> AnalyzeReport:
    """Embed and label every post that needs it; returns what ran and how fast."""
    started = time.perf_counter()
    detect_languages(con, campaign)  # cheap (~20,000-30,000 posts/s)
    models = load_models(settings, device)
    encoder = models.encoder
    report = AnalyzeReport(
        device=encoder.device,
        backend=encoder.variant,
        encoder_id=encoder.model_id,
        model_ids=models.model_ids,
    )
    with analysis_run(
        con, "analyze", campaign=campaign, models=[encoder.model_id, *report.model_ids.values()],
        device=encoder.device, backend=encoder.variant, started=started,
    ) as run:  # fmt: skip
        try:
            _run(con, models, report, settings, campaign, batch_size, progress)
        finally:  # what was stored before a failure counts too
            run.posts = report.posts
            report.seconds = time.perf_counter() - started
    return report


def chunks(todo: _Pending, size: int) -> Iterator[tuple[list[str], list[str], np.ndarray, dict]]:
    """The pending posts cut into chunks of ``size`` (``HYPEWATCH_ANALYZE_CHUNK``), in
    post id order: (ids, texts, has_embedding, has_label per task)."""
    size = max(1, size)
    for start in range(0, len(todo.post_ids), size):
        end = start + size
        yield (
            todo.post_ids[start:end],
            todo.texts[start:end],
            todo.has_embedding[start:end],
            {task: flags[start:end] for task, flags in todo.has_label.items()},
        )


def _run(
    con: duckdb.DuckDBPyConnection,
    models: Models,
    report: AnalyzeReport,
    settings: Settings,
    campaign: str | None,
    batch_size: int | None,
    progress: Progress | None,
) -> None:
    encoder_id = models.encoder.model_id
    todo = pending_posts(con, encoder_id, report.model_ids, campaign)
    batch = batch_size or settings.batch_size or None
    for ids, texts, has_embedding, has_label in chunks(todo, settings.analyze_chunk):
        emb, label_tables, ran = annotate_chunk(
            models, ids, texts, has_embedding, has_label, batch=batch,
            stored=lambda ids=ids: stored_embeddings(con, ids, encoder_id),
        )  # fmt: skip
        report.encoded += len(ids) if ran else 0
        n_emb, n_lab = store_analysis(con, emb, label_tables)
        report.embeddings_stored += n_emb
        report.labels_stored += n_lab
        report.posts += len(ids)
        if progress:
            progress(len(ids))


def make_encoder(
    settings: Settings, device: str | None = None, threads: int | None = None
) -> Encoder:
    """The encoder the settings name (the one ``analyze`` uses)."""
    return Encoder(
        num_threads=threads,
        model=None if settings.encoder_model == "default" else settings.encoder_model,
        backend=settings.encoder_backend,
        device=device or settings.device,
        cache_dir=settings.cache_dir,
        allow_download=settings.allow_model_download,
    )


def evaluate_task(
    task: str,
    data_path: Path,
    settings: Settings,
    *,
    model: str | None = None,
    baseline: str | None = None,
) -> dict:
    """Metrics of a task's model (the one in settings, or ``model``) on a labelled file,
    plus a rule baseline's on the same file when asked (``vader`` or ``keywords``)."""
    from analysis.evaluation import evaluate_baseline, evaluate_predictor, texts_labels

    if not data_path.is_file():
        raise ValueError(f"{data_path} does not exist")
    if baseline not in (None, "vader", "keywords"):
        raise ValueError(f"--baseline must be vader or keywords, not {baseline!r}")
    spec = model or getattr(settings, f"{task}_model")
    text_model = spec.startswith(("hf:", "zeroshot:"))
    encoder = None if text_model else make_encoder(settings)
    classifier = load_classifier(
        task,
        spec,
        device=settings.device,
        allow_download=settings.allow_model_download,
        encoder_name=encoder.info.name if encoder else None,
    )
    _, gold = texts_labels(data_path)
    unknown = sorted(set(gold) - set(TASKS[task].labels))
    if unknown:
        raise ValueError(
            f"{data_path}: labels {unknown} are not {task} labels {TASKS[task].labels}"
        )
    model_id = classifier.model_id
    if encoder is not None:
        encoder._load()  # model loading and ONNX export stay out of the timing
        model_id = f"{encoder.model_id}+{classifier.model_id}"

    def predict(texts: Sequence[str]) -> list[str]:
        encoded = encoder.encode(texts, settings.batch_size or None) if encoder else None
        return classifier.classify(encoded, texts)[0]

    result = evaluate_predictor(predict, data_path, model_id, list(TASKS[task].labels))
    if baseline:
        result["baseline"] = evaluate_baseline(baseline, data_path)
    return result
