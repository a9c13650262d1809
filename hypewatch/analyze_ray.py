"""The analyze stage on a Ray cluster: ``hypewatch analyze --engine ray``.

The same work as :func:`hypewatch.analyze.analyze`, with the encoder on several machines or
GPUs, in four steps:

1. **stage**: the driver selects the pending posts by the same rule
   (:func:`~hypewatch.analyze.pending_posts`), cuts them into the same chunks
   (``HYPEWATCH_ANALYZE_CHUNK``) and writes each as a Parquet shard to the stage location
   (a folder, or any URI pyarrow's filesystems take: ``s3://``, ``gs://``, ``hdfs://``);
2. **infer**: Ray Data runs ``map_batches`` over the shard list with an actor pool; each
   actor (:class:`ShardAnnotator`) loads the encoder and heads once, then annotates whole
   shards with :func:`~hypewatch.analyze.annotate_chunk`. A shard is one chunk, as in the
   local engine, because the int8 encoder's activation scales depend on the batch: the
   same chunks give the same embeddings;
3. each actor writes a shard's embeddings and labels as Parquet, then a ``.done`` marker:
   a shard is finished when its marker exists, so a retried or repeated shard overwrites
   its own files and nothing is counted twice;
4. **load**: the driver stores every finished shard (one transaction each; rows already
   stored are kept: ``ON CONFLICT DO NOTHING``), records the run in ``analysis_runs``
   (``engine = 'ray'``, the workers) and removes the stage folder.

A run killed anywhere completes on rerun: the stage folder of a warehouse and campaign
survives until it is loaded; the next run finishes its shards, loads them, then selects
what is still pending. An actor that dies is restarted by Ray and its shard retried.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from hypewatch.analyze import (
    AnalyzeReport,
    annotate_chunk,
    chunks,
    load_models,
    pending_posts,
    stored_embeddings,
)
from hypewatch.settings import Settings
from warehouse.read import connect_writer, reading
from warehouse.writes import finish_analysis_run, start_analysis_run, store_analysis

ANALYSIS_FIELDS = (
    "device", "batch_size", "encoder_model", "encoder_backend", "sentiment_model",
    "copyright_model", "allow_model_download", "analyze_chunk", "cache_dir",
)  # fmt: skip
"""The settings an actor needs (secrets such as webhook URLs never travel to the cluster)."""


class StageError(ValueError):
    """The stage location cannot be used (the message names it and why)."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how the Ray engine runs (``hypewatch analyze --engine ray`` options)."""

    address: str | None = None
    """``auto`` (a running cluster), ``ray://HOST:10001``, or None: a local Ray."""
    workers: int = 1
    """Actors (each loads the encoder once)."""
    gpus_per_worker: float = 0.0
    """GPUs per actor (0: CPU actors)."""
    cpus_per_worker: int = 1
    """CPUs per actor: Ray reserves them, and a CPU actor's encoder runs that many threads
    (two actors each using every core would fight over them)."""
    stage: str | None = None
    """Folder or URI for the shards (default: ``<cache_dir>/ray-stage``)."""


@dataclass
class RayReport(AnalyzeReport):
    engine: str = "ray"
    workers: int = 0
    shards: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step: stage write, cluster start, models (actors' ids), inference, load."""


# --- the stage folder -------------------------------------------------------------------


class Stage:
    """One warehouse's (and campaign's) shards on any pyarrow filesystem."""

    def __init__(self, uri: str, key: str) -> None:
        if "://" not in uri:
            uri = str(Path(uri).expanduser().resolve())  # a local folder, relative or not
        try:
            self.fs, base = pafs.FileSystem.from_uri(uri)
        except (pa.ArrowInvalid, ValueError) as exc:
            raise StageError(f"--stage {uri}: not a folder or URI pyarrow reads ({exc})") from None
        self.uri = uri
        self.root = f"{base.rstrip('/')}/{key}"

    def check_writable(self) -> None:
        """Create the folders, write and remove a probe file: fail before anything else."""
        probe = f"{self.root}/.probe-{os.getpid()}"
        try:
            for folder in ("input", "output"):
                self.fs.create_dir(f"{self.root}/{folder}", recursive=True)
            with self.fs.open_output_stream(probe) as out:
                out.write(b"ok")
            self.fs.delete_file(probe)
        except (OSError, pa.ArrowException) as exc:
            raise StageError(f"cannot write the stage location {self.uri}: {exc}") from None

    def exists(self) -> bool:
        info = self.fs.get_file_info(f"{self.root}/meta.json")
        return info.type == pafs.FileType.File

    def meta(self) -> dict:
        with self.fs.open_input_stream(f"{self.root}/meta.json") as src:
            return json.loads(src.read())

    def write_meta(self, meta: dict) -> None:
        with self.fs.open_output_stream(f"{self.root}/meta.json") as out:
            out.write(json.dumps(meta).encode())

    def shard(self, i: int) -> str:
        """Input shard ``i``: the posts of one chunk."""
        return f"{self.root}/input/part-{i:05d}.parquet"

    def result(self, i: int, kind: str) -> str:
        """What an actor wrote for shard ``i``: ``emb`` or ``labels`` (Parquet)."""
        return f"{self.root}/output/part-{i:05d}.{kind}.parquet"

    def done_marker(self, i: int) -> str:
        return f"{self.root}/output/part-{i:05d}.done"

    def is_done(self, i: int) -> bool:
        return self.fs.get_file_info(self.done_marker(i)).type == pafs.FileType.File

    def remove(self) -> None:
        if self.fs.get_file_info(self.root).type != pafs.FileType.NotFound:
            self.fs.delete_dir(self.root)


def stage_key(db: Path, campaign: str | None) -> str:
    """One stage folder per warehouse file and campaign."""
    return hashlib.sha256(f"{db.resolve()}|{campaign}".encode()).hexdigest()[:16]


# --- the actors -------------------------------------------------------------------------


def _settings(fields: dict[str, Any]) -> Settings:
    return Settings(**fields)


class ShardAnnotator:
    """A Ray Data actor: the encoder and heads loaded once; each call annotates the shards
    whose numbers it is given and writes their embeddings, labels and ``.done`` marker."""

    def __init__(
        self, fields: dict[str, Any], stage_uri: str, key: str, device: str, threads: int
    ) -> None:
        self.settings = _settings(fields)
        self.models = load_models(self.settings, device, threads)
        self.stage = Stage(stage_uri, key)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        posts, seconds = [], []
        for i in batch["shard"].tolist():
            started = time.perf_counter()
            posts.append(0 if self.stage.is_done(i) else self._annotate(i))
            seconds.append(time.perf_counter() - started)
        return {"shard": batch["shard"], "posts": np.array(posts), "seconds": np.array(seconds)}

    def _annotate(self, i: int) -> int:
        table = pq.read_table(self.stage.shard(i), filesystem=self.stage.fs)
        ids = table["post_id"].to_pylist()
        texts = table["text"].to_pylist()
        has_embedding = table["has_embedding"].to_numpy(zero_copy_only=False)
        has_label = {
            task: table[f"has_{task}"].to_numpy(zero_copy_only=False)
            for task in self.models.classifiers
        }
        stored = None
        if "stored_embedding" in table.column_names:
            column = table["stored_embedding"].combine_chunks()
            matrix = column.flatten().to_numpy().reshape(len(column), -1)
            stored = lambda: matrix  # noqa: E731
        emb, labels, _ = annotate_chunk(
            self.models, ids, texts, has_embedding, has_label,
            batch=self.settings.batch_size or None, stored=stored,
        )  # fmt: skip
        fs = self.stage.fs
        pq.write_table(emb, self.stage.result(i, "emb"), filesystem=fs)
        if labels:
            pq.write_table(pa.concat_tables(labels), self.stage.result(i, "labels"), filesystem=fs)
        with fs.open_output_stream(self.stage.done_marker(i)) as out:  # written last
            out.write(json.dumps({"posts": len(ids)}).encode())
        return len(ids)


def _describe(fields: dict[str, Any], device: str) -> dict[str, Any]:
    """What the actors will run: model ids, device, backend (loads the models once)."""
    models = load_models(_settings(fields), device)
    return {
        "encoder_id": models.encoder.model_id,
        "model_ids": models.model_ids,
        "device": models.encoder.device,
        "backend": models.encoder.variant,
        "needs_views": models.needs_views,
    }


# --- the driver -------------------------------------------------------------------------


def analyze_ray(
    db: Path,
    settings: Settings,
    options: RayOptions,
    *,
    campaign: str | None = None,
) -> RayReport:
    """Embed and label every post that needs it on a Ray cluster (see the module doc)."""
    import ray

    started = time.perf_counter()
    timings: dict[str, float] = {}
    if options.workers < 1:
        raise ValueError("--workers must be at least 1")
    stage = Stage(options.stage or str(settings.cache_dir / "ray-stage"), stage_key(db, campaign))
    stage.check_writable()  # before the warehouse or the cluster is touched

    from analysis.language import detect_languages

    con = connect_writer(db)
    try:
        detect_languages(con, campaign)  # cheap, local, as the local engine does
    finally:
        con.close()

    tick = time.perf_counter()
    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init(address=options.address, include_dashboard=False, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    timings["cluster start"] = time.perf_counter() - tick
    fields = {name: getattr(settings, name) for name in ANALYSIS_FIELDS}
    device = "cuda" if options.gpus_per_worker > 0 else "cpu"
    try:
        tick = time.perf_counter()
        describe = ray.remote(_describe).options(num_gpus=options.gpus_per_worker, num_cpus=1)
        info = ray.get(describe.remote(fields, device))
        timings["models (ids)"] = time.perf_counter() - tick
        report = RayReport(
            device=info["device"], backend=info["backend"], encoder_id=info["encoder_id"],
            model_ids=info["model_ids"], workers=options.workers, timings=timings,
        )  # fmt: skip
        con = connect_writer(db)
        try:
            run_id = start_analysis_run(
                con, "analyze", campaign=campaign,
                models=[info["encoder_id"], *info["model_ids"].values()],
                device=info["device"], backend=info["backend"], engine="ray",
                workers=options.workers,
            )  # fmt: skip
        finally:
            con.close()
        try:
            _passes(db, stage, info, fields, options, campaign, report)
        except BaseException as exc:
            _finish(db, run_id, report, started, "failed", f"{type(exc).__name__}: {exc}")
            raise
        _finish(db, run_id, report, started, "ok", None)
    finally:
        if started_ray:
            ray.shutdown()
    return report


def _finish(
    db: Path, run_id: int, report: RayReport, started: float, status: str, error: str | None
) -> None:
    report.seconds = time.perf_counter() - started
    con = connect_writer(db)
    try:
        finish_analysis_run(
            con, run_id, posts=report.posts, seconds=report.seconds, status=status, error=error
        )
    finally:
        con.close()


def _passes(
    db: Path,
    stage: Stage,
    info: dict,
    fields: dict,
    options: RayOptions,
    campaign: str | None,
    report: RayReport,
) -> None:
    """Finish an earlier run's shards if any (same models), then the posts still pending."""
    models = {"encoder_id": info["encoder_id"], "model_ids": info["model_ids"]}
    if stage.exists() and stage.meta().get("models") != models:
        stage.remove()  # shards of other models: their results would not be current
    while True:
        resumed = stage.exists()
        if not resumed:
            tick = time.perf_counter()
            stage.check_writable()  # (again: the folders went with the last pass's stage)
            count = _write_shards(db, stage, info, fields["analyze_chunk"], campaign, models)
            _add(report.timings, "stage write", time.perf_counter() - tick)
            if not count:
                stage.remove()
                return
        shards = stage.meta()["shards"]
        report.shards += shards
        tick = time.perf_counter()
        _infer(stage, shards, fields, options)
        _add(report.timings, "inference", time.perf_counter() - tick)
        tick = time.perf_counter()
        _load(db, stage, shards, report)
        stage.remove()
        _add(report.timings, "load", time.perf_counter() - tick)
        if not resumed:
            return


def _add(timings: dict[str, float], step: str, seconds: float) -> None:
    timings[step] = timings.get(step, 0.0) + seconds


def _write_shards(
    db: Path, stage: Stage, info: dict, chunk: int, campaign: str | None, models: dict
) -> int:
    """The pending posts as input shards (one chunk each); returns how many shards."""
    with reading(db) as con:
        todo = pending_posts(con, info["encoder_id"], info["model_ids"], campaign)
        count = 0
        for i, (ids, texts, has_embedding, has_label) in enumerate(chunks(todo, chunk)):
            columns: dict[str, Any] = {
                "post_id": ids,
                "text": texts,
                "has_embedding": has_embedding,
                **{f"has_{task}": flags for task, flags in has_label.items()},
            }
            if has_embedding.all() and not info["needs_views"]:  # only a head changed
                matrix = stored_embeddings(con, ids, info["encoder_id"]).astype(np.float32)
                columns["stored_embedding"] = pa.FixedSizeListArray.from_arrays(
                    pa.array(matrix.reshape(-1)), matrix.shape[1]
                )
            pq.write_table(pa.table(columns), stage.shard(i), filesystem=stage.fs)
            count += 1
    if count:
        stage.write_meta({"models": models, "shards": count})  # the shards are complete
    return count


def _infer(stage: Stage, shards: int, fields: dict, options: RayOptions) -> None:
    """Ray Data: the shards not done yet through an actor pool (Ray restarts a dead actor
    and retries its shard)."""
    import ray

    todo = [i for i in range(shards) if not stage.is_done(i)]
    if not todo:
        return
    device = "cuda" if options.gpus_per_worker > 0 else "cpu"
    dataset = ray.data.from_items([{"shard": i} for i in todo], override_num_blocks=len(todo))
    annotated = dataset.map_batches(
        ShardAnnotator,
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=min(options.workers, len(todo))),
        num_gpus=options.gpus_per_worker,
        num_cpus=options.cpus_per_worker,
        fn_constructor_kwargs={
            "fields": fields,
            "stage_uri": stage.uri,
            "key": stage.root.rsplit("/", 1)[1],
            "device": device,
            "threads": options.cpus_per_worker,
        },
    )
    annotated.materialize()
    missing = [i for i in todo if not stage.is_done(i)]
    if missing:
        raise RuntimeError(f"Ray finished without shards {missing[:5]} (see Ray's logs)")


def _load(db: Path, stage: Stage, shards: int, report: RayReport) -> None:
    """Every finished shard into the warehouse, one transaction each (idempotent)."""
    fs = stage.fs
    for i in range(shards):
        emb = _fixed_size(pq.read_table(stage.result(i, "emb"), filesystem=fs))
        labels_path = stage.result(i, "labels")
        has_labels = fs.get_file_info(labels_path).type == pafs.FileType.File
        labels = [pq.read_table(labels_path, filesystem=fs)] if has_labels else []
        con = connect_writer(db)
        try:
            n_emb, n_lab = store_analysis(con, emb, labels)
        finally:
            con.close()
        report.embeddings_stored += n_emb
        report.labels_stored += n_lab
        with fs.open_input_stream(stage.done_marker(i)) as src:
            report.posts += json.loads(src.read())["posts"]


def _fixed_size(emb: pa.Table) -> pa.Table:
    """Parquet gives the embeddings back as variable lists; the table wants FLOAT[d]."""
    column = emb["embedding"].combine_chunks()
    if pa.types.is_fixed_size_list(column.type) or len(column) == 0:
        return emb
    dim = len(column[0])
    fixed = pa.FixedSizeListArray.from_arrays(column.flatten().cast(pa.float32()), dim)
    return emb.set_column(emb.schema.get_field_index("embedding"), "embedding", fixed)
