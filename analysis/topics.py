"""Topics: BERTopic on the STORED embeddings, persisted as topic runs.

``hypewatch topics`` fits BERTopic on a bounded, deterministic sample of the posts that have
an embedding (never re-encoding a post), reduces outliers, names every topic and stores the
run in ``topic_runs``, ``topics`` (keywords, name, three representative posts, the topic's
centroid in embedding space) and ``post_topics``. Every other post, and every post stored
later, is assigned to the nearest topic centroid (cosine similarity), in batches, without a
refit; ``--refit`` fits a new run and keeps the old ones.

The BERTopic stages are built by small factory functions (:func:`make_reducer`,
:func:`make_hdbscan`, :func:`make_vectorizer`, :func:`make_representation`) from
:class:`TopicSettings`, so any of them can be swapped. Reproducible: fixed seeds, a sample
chosen by ``md5(post_id)``, posts in ``post_id`` order, topic ids ordered by size.

Labels need no encoder at fit time: c-TF-IDF keywords (multilingual stop words, Japanese and
Korean split by script) are re-ranked KeyBERT-style against the topic centroid, where a
word's vector is the mean stored embedding of the posts that contain it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from warehouse.db import transaction
from warehouse.writes import mark_write, utcnow

OUTLIER = -1
DIM = 384


# ---------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TopicSettings:
    fit_sample: int = 50_000
    """Posts BERTopic is fitted on (a deterministic sample); the rest are assigned."""
    min_cluster_size: int = 0
    """HDBSCAN ``min_cluster_size``; 0 picks ``fit posts / 100`` within [15, 500]."""
    min_samples: int = 10
    """HDBSCAN ``min_samples`` (lower: fewer outliers before reduction)."""
    nr_topics: int = 40
    """Merge similar topics until at most this many remain (0: keep HDBSCAN's)."""
    reduction: str = "umap"
    """``umap`` (BERTopic's default) or ``pca`` (much faster, coarser; for tests and quick
    looks)."""
    umap_neighbors: int = 15
    umap_components: int = 5
    outlier_threshold: float = 0.3
    """Cosine similarity to the nearest topic centroid needed to leave the outlier topic."""
    top_n_words: int = 10
    representation: str = "keybert"
    """How names are made: ``keybert`` (c-TF-IDF terms re-ranked on the stored embeddings)
    or ``ctfidf`` (the top c-TF-IDF terms). Keywords are always c-TF-IDF."""
    assign_batch: int = 50_000
    """Posts read, scored and written per batch when assigning."""
    center_languages: bool = True
    """Subtract each language's offset (its posts' mean embedding minus all posts' mean)
    before clustering and assigning, so that one story told in Japanese, French and English
    is one topic, not one per language. Languages: the one each post is shown under
    (``post_languages.lang_effective``); one with fewer than 20 fitted posts is left as is."""
    duckdb_memory: str = "1GB"
    """DuckDB's memory limit while fitting and assigning (its buffer cache would otherwise
    grow with the embeddings it scans); restored afterwards. Empty: leave it alone."""
    seed: int = 42

    @classmethod
    def from_settings(cls, settings: Any) -> TopicSettings:
        """Pick ``topics_<field>`` values from the app settings where they exist."""
        return cls(**prefixed_fields(cls, settings, "topics_"))

    def cluster_size(self, n: int) -> int:
        if self.min_cluster_size > 0:
            return self.min_cluster_size
        return int(min(500, max(15, n // 100)))


# ----------------------------------------------------------------------- tokenization

_URL = re.compile(r"https?://\S+|www\.\S+|@[\w.-]+")
_WORD = re.compile(r"\w+(?:[-’']\w+)*")
_SCRIPT = re.compile(
    r"(?P<kata>[\u30a0-\u30ff\uff66-\uff9f]+)|(?P<kanji>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)"
    r"|(?P<hira>[\u3040-\u309f]+)|(?P<hangul>[\uac00-\ud7af]+)|(?P<other>[^\u3040-\u30ff"
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\uff66-\uff9f]+)"
)
_SEGMENT = re.compile(r"(#\w+)|[.,;:!?…()\[\]{}\"“”«»„/|\n。、！？「」『』・]+|\s[-–—]\s")
_ELISION = re.compile(r"^(?:[ldjmnstc]|qu|all|dell|nell|sull|dall)['’]", re.IGNORECASE)
_SOCIAL_STOP = {
    "thing", "things", "stuff", "doing", "make", "makes", "made", "making", "gonna", "wanna",
    "literally", "actually", "want", "need", "know", "think", "going", "look", "looks",
    "rt", "amp", "via", "https", "http", "www", "com", "lol", "lmao", "omg", "yeah", "yes",
    "just", "like", "really", "got", "get", "gets", "getting", "im", "ive", "dont", "doesnt",
    "didnt", "cant", "isnt", "thats", "its", "it's", "i'm", "don't", "can't", "que", "pra",
    "tá", "né", "wow", "ok", "okay", "hmm", "lo", "también",
}  # fmt: skip


_KEEP = {"ai", "ia", "ki", "art", "free", "image", "images"}  # meaningful here


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """English (scikit-learn) + French, Spanish, German, Portuguese, Italian, Japanese and
    Korean stop words (the ``stop-words`` package) + social-media filler."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from stop_words import get_stop_words

    words = set(ENGLISH_STOP_WORDS) | _SOCIAL_STOP
    for lang in ("french", "spanish", "german", "portuguese", "italian", "japanese", "korean"):
        words.update(w.lower() for w in get_stop_words(lang))
    return frozenset(words - _KEEP)


_CONTRACTION = {"t", "re", "ve", "ll", "d", "m"}


def _strip_apostrophe(token: str) -> str | None:
    """``japan's`` -> ``japan``; ``isn't``, ``we're`` -> None (a stop word)."""
    base, sep, suffix = token.replace("’", "'").rpartition("'")
    if not sep:
        return token
    if suffix == "s":
        return base
    return None if suffix in _CONTRACTION else token


def _pieces(token: str) -> Iterator[str | None]:
    """A word split by script: CJK runs kept (katakana, kanji, hangul, 2+ characters),
    hiragana dropped (mostly particles and endings); ``None`` breaks a bigram chain."""
    if token.isascii():
        yield token
        return
    for m in _SCRIPT.finditer(token):
        kind, text = m.lastgroup, m.group()
        if kind == "other":
            yield text
        elif kind == "hira" or len(text) < 2:
            yield None
        else:
            yield text


def analyze(text: str) -> list[str]:
    """Terms of one text for c-TF-IDF: words and adjacent-word bigrams, lower case; links,
    @mentions, numbers and stop words dropped; hashtags kept as words (never in a bigram);
    Japanese/Chinese by script runs (katakana and kanji runs are terms), Korean by word.
    Bigrams never cross punctuation or a stop word."""
    stops = stop_words()
    terms: list[str] = []
    for segment in _SEGMENT.split(_URL.sub(" . ", text.lower())):
        if not segment:
            continue
        previous: str | None = None
        for raw in _WORD.findall(segment):
            word = _strip_apostrophe(_ELISION.sub("", raw))
            for piece in _pieces(word) if word else (None,):
                if piece is None or piece in stops or piece.isdigit() or len(piece) < 2:
                    previous = None
                    continue
                terms.append(piece)
                if previous is not None and piece.isascii() == previous.isascii():
                    terms.append(f"{previous} {piece}")
                previous = piece
    return terms


# -------------------------------------------------------------------- BERTopic stages


def make_reducer(s: TopicSettings) -> Any:
    """Dimensionality reduction before clustering: UMAP (cosine, seeded) or PCA."""
    if s.reduction == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=s.umap_components, random_state=s.seed)
    if s.reduction != "umap":
        raise ValueError(f"topic reduction must be umap or pca, not {s.reduction!r}")
    from umap import UMAP

    return UMAP(
        n_neighbors=s.umap_neighbors,
        n_components=s.umap_components,
        min_dist=0.0,
        metric="cosine",
        random_state=s.seed,
        low_memory=True,
    )


def make_hdbscan(s: TopicSettings, n_posts: int) -> Any:
    from hdbscan import HDBSCAN

    return HDBSCAN(
        min_cluster_size=s.cluster_size(n_posts),
        min_samples=s.min_samples,
        metric="euclidean",
        cluster_selection_method="eom",
        prediction_data=False,
    )


def make_vectorizer(s: TopicSettings) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(analyzer=analyze, min_df=1)


def make_ctfidf(s: TopicSettings) -> Any:
    from bertopic.vectorizers import ClassTfidfTransformer

    return ClassTfidfTransformer(reduce_frequent_words=True)


def make_representation(s: TopicSettings, embeddings: np.ndarray) -> dict[str, Any] | None:
    """BERTopic representation models: the main representation stays c-TF-IDF (the
    keywords); the ``Name`` aspect, a list of tuners, re-ranks them for the name."""
    if s.representation == "ctfidf":
        return None
    if s.representation != "keybert":
        raise ValueError(
            f"topic representation must be keybert or ctfidf, not {s.representation!r}"
        )
    return {"Name": [StoredEmbeddingKeyBERT(embeddings, top_n_words=s.top_n_words)]}


class StoredEmbeddingKeyBERT:
    """KeyBERTInspired without an encoder (a BERTopic representation model).

    Candidates are each topic's top c-TF-IDF terms. A term's vector is the normalized mean
    of the stored embeddings of the fitted posts that contain it; terms are ranked by cosine
    similarity to the topic centroid (mean embedding of its posts), times, when ``blend``,
    how well the term covers the topic: the share of the topic's posts that contain it
    times the log of how much more often they do than all posts (a term most of the topic
    uses and the rest rarely does names it; pure similarity favours rare terms whose few
    posts happen to be central, pure c-TF-IDF generic words of one storyline).
    """

    def __init__(
        self,
        embeddings: np.ndarray,
        top_n_words: int = 10,
        candidates: int = 30,
        blend: bool = True,
    ):
        self.embeddings = embeddings
        self.top_n_words = top_n_words
        self.candidates = candidates
        self.blend = blend

    def extract_topics(
        self,
        topic_model: Any,
        documents: pd.DataFrame,
        c_tf_idf: Any,
        topics: dict[int, list[tuple[str, float]]],
        embeddings: np.ndarray | None = None,
    ) -> dict[int, list[tuple[str, float]]]:
        from sklearn.feature_extraction.text import CountVectorizer

        weights = {
            t: {w: s for w, s in words[: self.candidates] if w and s > 0}
            for t, words in topics.items()
        }
        candidates = {t: list(ws) for t, ws in weights.items()}
        labels = documents["Topic"].to_numpy()
        if self.blend:  # the terms most of a topic's posts use are candidates too
            every = CountVectorizer(analyzer=analyze, binary=True, min_df=3)
            counts = every.fit_transform(documents["Document"])
            terms = every.get_feature_names_out()
            for t in candidates:
                freq = np.asarray(counts[np.flatnonzero(labels == t)].sum(axis=0)).ravel()
                top = [str(terms[i]) for i in np.argsort(-freq, kind="stable")[:20] if freq[i]]
                candidates[t] += [w for w in top if w not in weights[t]]
        vocab = sorted({w for words in candidates.values() for w in words})
        if not vocab:
            return {t: words[: self.top_n_words] for t, words in topics.items()}
        ids = documents["ID"].to_numpy()
        emb = self.embeddings[ids]
        incidence = CountVectorizer(analyzer=analyze, vocabulary=vocab, binary=True).transform(
            documents["Document"]
        )
        word_vectors = _normalize(np.asarray(incidence.T @ emb))
        column = {w: i for i, w in enumerate(vocab)}
        overall = np.asarray(incidence.mean(axis=0)).ravel()
        updated = {}
        for topic, words in candidates.items():
            if not words:
                updated[topic] = topics[topic][: self.top_n_words]
                continue
            in_topic = labels == topic
            centroid = _normalize(emb[in_topic].mean(axis=0, keepdims=True))[0]
            cols = [column[w] for w in words]
            sims = word_vectors[cols] @ centroid
            if self.blend:
                coverage = np.asarray(incidence[np.flatnonzero(in_topic)][:, cols].mean(axis=0))
                coverage = coverage.ravel()
                lift = np.log(np.maximum(coverage / np.maximum(overall[cols], 1e-9), 1.0 + 1e-6))
                sims = np.clip(sims, 0.0, None) * coverage * lift
            order = np.argsort(-sims, kind="stable")[: self.top_n_words]
            updated[topic] = [(words[i], float(sims[i])) for i in order]
        return updated


def _normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms == 0, 1, norms)).astype(np.float32)


def build_model(s: TopicSettings, embeddings: np.ndarray) -> Any:
    """A BERTopic model from the factories; it never loads an encoder."""
    from bertopic import BERTopic

    return BERTopic(
        language="multilingual",  # "english" would strip every non-ASCII character
        umap_model=make_reducer(s),
        hdbscan_model=make_hdbscan(s, len(embeddings)),
        vectorizer_model=make_vectorizer(s),
        ctfidf_model=make_ctfidf(s),
        representation_model=make_representation(s, embeddings),
        nr_topics=s.nr_topics or None,
        top_n_words=s.top_n_words,
        calculate_probabilities=False,
    )


# ----------------------------------------------------------------------------- fitting


@dataclass
class FitResult:
    labels: np.ndarray  # topic per fitted post (-1: outlier)
    reassigned: np.ndarray  # bool: left the outlier topic by outlier reduction
    keywords: dict[int, list[str]]
    names: dict[int, str]
    centroids: dict[int, np.ndarray]  # normalized
    representatives: dict[int, list[int]]  # row indices, most central first
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def topic_name(keywords: list[str], n: int = 3) -> str:
    """A short name from the top keywords, skipping one that shares a word with (or is part
    of) a keyword already chosen."""
    chosen: list[str] = []
    used: set[str] = set()
    for term in keywords:
        words = set(term.split())
        if words & used or any(term in c or c in term for c in chosen):
            continue
        chosen.append(term)
        used |= words
        if len(chosen) == n:
            break
    return " / ".join(chosen) if chosen else "(no keywords)"


def fit_topics(texts: list[str], embeddings: np.ndarray, s: TopicSettings) -> FitResult:
    """Fit BERTopic on ``texts`` with their stored ``embeddings``, reduce outliers, and
    number the topics 0.. by size (largest first; ties by BERTopic's order)."""
    start = time.perf_counter()
    embeddings = _normalize(np.asarray(embeddings, dtype=np.float32))
    model = build_model(s, embeddings)
    labels = np.asarray(model.fit_transform(texts, embeddings=embeddings)[0])
    before = labels.copy()
    if (labels == OUTLIER).any() and (labels != OUTLIER).any():
        labels = np.asarray(
            model.reduce_outliers(
                texts,
                labels.tolist(),
                strategy="embeddings",
                embeddings=embeddings,
                threshold=s.outlier_threshold,
            )
        )
        model.update_topics(
            texts,
            topics=labels.tolist(),
            top_n_words=s.top_n_words,
            vectorizer_model=make_vectorizer(s),
            ctfidf_model=make_ctfidf(s),
            representation_model=make_representation(s, embeddings),
        )
    words = {int(t): [w for w, _ in ws if w] for t, ws in model.get_topics().items()}
    aspect = getattr(model, "topic_aspects_", {}).get("Name", {})
    sizes = {t: int((labels == t).sum()) for t in words if t != OUTLIER}
    order = sorted((t for t in sizes if sizes[t]), key=lambda t: (-sizes[t], t))
    new_id = {old: new for new, old in enumerate(order)}
    labels = np.array([new_id.get(int(t), OUTLIER) for t in labels], dtype=np.int64)
    keywords = {new_id[t]: words[t] for t in order}
    name_terms = {
        new_id[t]: [w for w, _ in aspect[t] if w] if t in aspect else words[t] for t in order
    }
    centroids = {
        t: _normalize(embeddings[labels == t].mean(axis=0, keepdims=True))[0] for t in keywords
    }
    representatives = {
        t: _central_rows(texts, embeddings, labels, t, c) for t, c in centroids.items()
    }
    return FitResult(
        labels=labels,
        reassigned=(before == OUTLIER) & (labels != OUTLIER),
        keywords=keywords,
        names={t: topic_name(name_terms[t]) for t in keywords},
        centroids=centroids,
        representatives=representatives,
        seconds=time.perf_counter() - start,
        extra={"hdbscan_outlier_share": float((before == OUTLIER).mean())},
    )


def _central_rows(
    texts: list[str],
    embeddings: np.ndarray,
    labels: np.ndarray,
    topic: int,
    centroid: np.ndarray,
    n: int = 3,
    max_overlap: float = 0.5,
    max_cosine: float = 0.95,
) -> list[int]:
    """The ``n`` posts of a topic closest to its centroid that are not near-duplicates of
    one already chosen: sharing more than ``max_overlap`` of their words (Jaccard, links
    and mentions left out) or closer than ``max_cosine`` in embedding space. When a topic
    holds too few such posts, its closest posts of another wording fill the list."""
    rows = np.flatnonzero(labels == topic)
    order = rows[np.argsort(-(embeddings[rows] @ centroid), kind="stable")]
    chosen: list[int] = []
    words: list[set[str]] = []
    for row in order[:2000]:
        w = set(analyze(texts[row])) or set(_WORD.findall(texts[row].lower()))
        similar = any(
            len(w & o) / max(len(w | o), 1) > max_overlap
            or float(embeddings[row] @ embeddings[c]) > max_cosine
            for o, c in zip(words, chosen, strict=True)
        )
        if similar:
            continue
        chosen.append(int(row))
        words.append(w)
        if len(chosen) == n:
            return chosen

    # a topic of near-copies: fill up with its closest posts of another wording
    def wording(row: int) -> str:
        return " ".join(sorted(set(_WORD.findall(_URL.sub(" ", texts[row].lower())))))

    seen = {wording(c) for c in chosen}
    for row in order[:2000]:
        if len(chosen) == n:
            break
        if int(row) not in chosen and (key := wording(row)) not in seen:
            chosen.append(int(row))
            seen.add(key)
    return chosen


def assign(
    embeddings: np.ndarray, topic_ids: np.ndarray, centroids: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid per row -> (topic, cosine); below ``threshold`` -> the outlier topic."""
    if len(topic_ids) == 0:
        return np.full(len(embeddings), OUTLIER), np.zeros(len(embeddings), dtype=np.float32)
    sims = _normalize(np.asarray(embeddings, dtype=np.float32)) @ centroids.T
    best = sims.argmax(axis=1)
    score = sims[np.arange(len(sims)), best]
    topics = np.where(score >= threshold, topic_ids[best], OUTLIER)
    return topics, score.astype(np.float32)


# ------------------------------------------------------------------------- warehouse


def prefixed_fields(cls: type, settings: Any, prefix: str) -> dict[str, Any]:
    """The values of dataclass ``cls``'s fields that ``settings`` holds as ``<prefix><field>``."""
    return {
        f.name: getattr(settings, prefix + f.name)
        for f in fields(cls)
        if hasattr(settings, prefix + f.name)
    }


def query_arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pa.Table:
    """A query's rows as an Arrow table (DuckDB 1.x and 2.x)."""
    rel = con.sql(sql, params=params)
    return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()


def query_batches(
    con: duckdb.DuckDBPyConnection, sql: str, params: list | None, batch_size: int
) -> pa.RecordBatchReader:
    """A query's rows as a stream of Arrow record batches (memory stays bounded)."""
    rel = con.sql(sql, params=params)
    if hasattr(rel, "to_arrow_reader"):
        return rel.to_arrow_reader(batch_size)
    return rel.fetch_arrow_reader(batch_size)


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    """The first row of a query, its result consumed (DuckDB 2 keeps a result open after
    ``fetchone``, which blocks ``register`` on the connection)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


_MEMORY = re.compile(r"\d+(\.\d+)?\s*[KMGT]i?B", re.IGNORECASE)


@contextmanager
def memory_limit(con: duckdb.DuckDBPyConnection, limit: str) -> Iterator[None]:
    """Run a block with DuckDB's ``memory_limit`` set to ``limit`` (e.g. ``1GB``)."""
    if not limit:
        yield
        return
    if not _MEMORY.fullmatch(limit.strip()):
        raise ValueError(f"DuckDB memory limit {limit!r} is not like 1GB or 512MB")
    old = fetch_one(con, "SELECT current_setting('memory_limit')")[0]
    con.execute(f"SET memory_limit = '{limit.strip()}'")
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{old}'")


def _scope(campaign: str | None) -> tuple[str, list[Any]]:
    if campaign is None:
        return "TRUE", []
    return "p.campaign = ?", [campaign]


def embedding_model(con: duckdb.DuckDBPyConnection, campaign: str | None) -> str | None:
    """The encoder that embedded most of the campaign's posts (ties: the latest id)."""
    where, params = _scope(campaign)
    row = fetch_one(
        con,
        f"SELECT e.model_id FROM embeddings e JOIN posts p USING (post_id) WHERE {where} "
        "GROUP BY e.model_id ORDER BY count(*) DESC, e.model_id DESC LIMIT 1",
        params,
    )
    return row[0] if row else None


def _embedding_matrix(table: pa.Table, column: str = "embedding") -> np.ndarray:
    values = table[column].combine_chunks()
    if len(values) == 0:
        return np.zeros((0, DIM), dtype=np.float32)
    flat = values.flatten().to_numpy(zero_copy_only=False)  # flatten() honours slicing
    return flat.reshape(len(values), -1).astype(np.float32, copy=False)


MIN_LANGUAGE_POSTS = 20


def language_offsets(
    embeddings: np.ndarray, langs: list[str], min_posts: int = MIN_LANGUAGE_POSTS
) -> dict[str, np.ndarray]:
    """Each language's offset: the mean of its rows minus the mean of all rows (languages
    with fewer than ``min_posts`` rows get none)."""
    emb = np.asarray(embeddings, dtype=np.float32)
    overall = emb.mean(axis=0)
    codes = np.asarray(langs, dtype=object)
    out = {}
    for lang in sorted(set(langs)):
        rows = codes == lang
        if rows.sum() >= min_posts:
            out[str(lang)] = (emb[rows].mean(axis=0) - overall).astype(np.float32)
    return out


def center_languages(
    embeddings: np.ndarray, langs: list[str], offsets: dict[str, np.ndarray]
) -> np.ndarray:
    """Embeddings minus their language's offset, re-normalized."""
    out = np.array(embeddings, dtype=np.float32, copy=True)
    codes = np.asarray(langs, dtype=object)
    for lang, offset in offsets.items():
        out[codes == lang] -= offset
    return _normalize(out)


def load_sample(
    con: duckdb.DuckDBPyConnection, campaign: str | None, model_id: str, size: int
) -> tuple[list[str], list[str], np.ndarray, list[str]]:
    """The fitting sample: up to ``size`` posts chosen by ``md5(post_id)`` (the same posts
    on every rerun), in ``post_id`` order -> (post_ids, texts, embeddings, languages)."""
    where, params = _scope(campaign)
    # Ids first (no embedding in the sort), then their rows: memory follows the sample.
    ids = query_arrow(
        con,
        f"""
        SELECT e.post_id FROM embeddings e
        WHERE e.model_id = ? AND e.post_id IN (SELECT post_id FROM posts p WHERE {where})
        ORDER BY md5(e.post_id) LIMIT ?
        """,
        [model_id, *params, size],
    )
    con.register("_sample_ids", ids)
    try:
        table = query_arrow(
            con,
            "SELECT s.post_id, p.text, e.embedding, coalesce(l.lang_effective, 'und') AS lang "
            "FROM _sample_ids s "
            "JOIN embeddings e ON e.post_id = s.post_id AND e.model_id = ? "
            "JOIN posts p ON p.post_id = s.post_id "
            "LEFT JOIN post_languages l ON l.post_id = s.post_id ORDER BY s.post_id",
            [model_id],
        )
    finally:
        con.unregister("_sample_ids")
    return (
        table["post_id"].to_pylist(),
        table["text"].to_pylist(),
        _embedding_matrix(table),
        table["lang"].to_pylist(),
    )


@dataclass
class TopicRunReport:
    run_id: int
    refit: bool
    topics: int
    fit_posts: int
    assigned: int
    outlier_share: float
    seconds: float
    quality: dict[str, float] | None = None


def current_run(con: duckdb.DuckDBPyConnection, campaign: str | None) -> tuple[int, str] | None:
    """(run_id, embedding model) of the campaign's latest topic run, if any."""
    row = fetch_one(
        con,
        "SELECT run_id, embedding_model FROM current_topic_runs "
        "WHERE campaign IS NOT DISTINCT FROM ?",
        [campaign],
    )
    return (row[0], row[1]) if row else None


def run_topics(
    con: duckdb.DuckDBPyConnection,
    campaign: str | None = None,
    *,
    refit: bool = False,
    settings: TopicSettings | None = None,
    progress: Callable[[int], None] | None = None,
) -> TopicRunReport:
    """``hypewatch topics``: fit a run when there is none, when ``refit``, or when most
    posts now carry another encoder's embeddings than the run was fitted on; then assign
    every post of the campaign that has an embedding and no topic in that run yet."""
    s = settings or TopicSettings()
    start = time.perf_counter()
    existing = current_run(con, campaign)
    latest = embedding_model(con, campaign)
    # a new encoder (its embeddings now the majority) refits: centroids of another model's
    # space cannot place its posts
    if existing is None or refit or existing[1] != latest:
        model_id = latest
        if model_id is None:
            raise ValueError("no stored embeddings for these posts: run `hypewatch analyze` first")
        run_id = fit_run(con, campaign, model_id, s)
        fitted = True
    else:
        run_id, model_id = existing
        fitted = False
    assigned = assign_run(con, run_id, s, progress=progress)
    outliers = fetch_one(
        con, "SELECT avg((topic_id = -1)::INTEGER) FROM post_topics WHERE run_id = ?", [run_id]
    )[0]
    quality = evaluate_run(con, run_id)
    n_topics, fit_posts = fetch_one(
        con, "SELECT topics, fit_posts FROM topic_runs WHERE run_id = ?", [run_id]
    )
    con.execute(
        "UPDATE topic_runs SET outlier_share = ?, quality = ? WHERE run_id = ?",
        [outliers, json.dumps(quality) if quality else None, run_id],
    )
    return TopicRunReport(
        run_id=run_id,
        refit=fitted,
        topics=n_topics,
        fit_posts=fit_posts,
        assigned=assigned,
        outlier_share=float(outliers or 0.0),
        seconds=time.perf_counter() - start,
        quality=quality,
    )


def fit_run(
    con: duckdb.DuckDBPyConnection, campaign: str | None, model_id: str, s: TopicSettings
) -> int:
    """Fit on the sample and store a new run (topics + the sample's assignments)."""
    with memory_limit(con, s.duckdb_memory):
        post_ids, texts, embeddings, langs = load_sample(con, campaign, model_id, s.fit_sample)
    if len(post_ids) < 2 * max(s.cluster_size(len(post_ids)), 5):
        raise ValueError(f"only {len(post_ids)} posts with embeddings: too few to find topics")
    offsets = language_offsets(embeddings, langs) if s.center_languages else {}
    if offsets:
        embeddings = center_languages(embeddings, langs, offsets)
    result = fit_topics(texts, embeddings, s)
    # stored with the run: assigning later posts centres them the same way
    result.extra["language_offsets"] = {
        k: [round(float(x), 6) for x in v] for k, v in offsets.items()
    }
    return store_run(con, campaign, model_id, s, post_ids, embeddings, result)


def store_run(
    con: duckdb.DuckDBPyConnection,
    campaign: str | None,
    model_id: str,
    s: TopicSettings,
    post_ids: list[str],
    embeddings: np.ndarray,
    result: FitResult,
) -> int:
    """Write a fitted run in one transaction; returns its ``run_id``."""
    now = utcnow()
    topic_ids = sorted(result.centroids)
    outlier_rows = result.labels == OUTLIER
    topics = pa.table(
        {
            "topic_id": pa.array([OUTLIER, *topic_ids], pa.int32()),
            "name": ["(unassigned)", *(result.names[t] for t in topic_ids)],
            "keywords": pa.array(
                [[], *(result.keywords[t] for t in topic_ids)], pa.list_(pa.string())
            ),
            "fit_posts": pa.array(
                [int(outlier_rows.sum()), *(int((result.labels == t).sum()) for t in topic_ids)],
                pa.int64(),
            ),
            "representative_post_ids": pa.array(
                [
                    [],
                    *([post_ids[i] for i in result.representatives[t]] for t in topic_ids),
                ],
                pa.list_(pa.string()),
            ),
            "centroid": pa.array(
                [None, *(result.centroids[t].tolist() for t in topic_ids)],
                pa.list_(pa.float32(), DIM),
            ),
        }
    )
    # Similarity to the post's own topic centroid (outliers: to the nearest one).
    sims = np.zeros(len(post_ids), np.float32)
    if topic_ids:
        all_sims = embeddings @ np.stack([result.centroids[t] for t in topic_ids]).T
        own = np.searchsorted(topic_ids, np.maximum(result.labels, 0))
        sims = np.where(outlier_rows, all_sims.max(axis=1), all_sims[np.arange(len(post_ids)), own])
    assignments = pa.table(
        {
            "post_id": pa.array(post_ids, pa.string()),
            "topic_id": pa.array(result.labels, pa.int32()),
            "similarity": pa.array(sims.astype(np.float32), pa.float32()),
            "method": pa.array(np.where(result.reassigned, "outlier", "fit").tolist(), pa.string()),
        }
    )
    params = {**asdict(s), "min_cluster_size_used": s.cluster_size(len(post_ids)), **result.extra}
    with transaction(con):
        run_id = fetch_one(
            con,
            "INSERT INTO topic_runs (campaign, embedding_model, created_at, fit_posts, topics, "
            "seconds, params) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING run_id",
            [
                campaign,
                model_id,
                now,
                len(post_ids),
                len(topic_ids),
                result.seconds,
                json.dumps(params),
            ],
        )[0]
        con.register("_topics", topics)
        con.execute("INSERT INTO topics SELECT ?, * FROM _topics", [run_id])
        con.unregister("_topics")
        con.register("_assign", assignments)
        con.execute(
            "INSERT INTO post_topics SELECT ?, post_id, topic_id, similarity, method, ? "
            "FROM _assign",
            [run_id, now],
        )
        con.unregister("_assign")
        mark_write(con, "topics", len(post_ids))
    return run_id


def load_centroids(con: duckdb.DuckDBPyConnection, run_id: int) -> tuple[np.ndarray, np.ndarray]:
    table = query_arrow(
        con,
        "SELECT topic_id, centroid FROM topics WHERE run_id = ? AND topic_id <> -1 "
        "ORDER BY topic_id",
        [run_id],
    )
    return table["topic_id"].to_numpy().astype(np.int32), _embedding_matrix(table, "centroid")


def assign_run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    s: TopicSettings,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Assign every post of the run's scope with an embedding and no topic yet, streaming
    ``assign_batch`` posts at a time (memory stays bounded); returns the posts assigned."""
    campaign, model_id = fetch_one(
        con, "SELECT campaign, embedding_model FROM topic_runs WHERE run_id = ?", [run_id]
    )
    topic_ids, centroids = load_centroids(con, run_id)
    stored = json.loads(
        fetch_one(con, "SELECT params FROM topic_runs WHERE run_id = ?", [run_id])[0]
    )
    offsets = {
        k: np.asarray(v, dtype=np.float32) for k, v in stored.get("language_offsets", {}).items()
    }
    where, params = _scope(campaign)
    sql = f"""
        SELECT e.post_id, e.embedding, coalesce(l.lang_effective, 'und') AS lang
        FROM embeddings e JOIN posts p USING (post_id)
        LEFT JOIN post_languages l USING (post_id)
        WHERE e.model_id = ? AND {where}
          AND NOT EXISTS (
            SELECT 1 FROM post_topics t WHERE t.run_id = ? AND t.post_id = e.post_id
          )
    """
    total = 0
    pending: list[pa.RecordBatch] = []
    reader = con.cursor()  # streams while `con` writes each batch
    with memory_limit(con, s.duckdb_memory):
        try:
            for batch in query_batches(reader, sql, [model_id, *params, run_id], s.assign_batch):
                pending.append(batch)
                if sum(b.num_rows for b in pending) < s.assign_batch:
                    continue
                total += _assign_batch(
                    con, run_id, pa.Table.from_batches(pending), topic_ids, centroids, s, offsets
                )
                pending = []
                if progress:
                    progress(total)
            if pending:
                total += _assign_batch(
                    con, run_id, pa.Table.from_batches(pending), topic_ids, centroids, s, offsets
                )
                if progress:
                    progress(total)
        finally:
            reader.close()
    return total


def _assign_batch(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    batch: pa.Table,
    topic_ids: np.ndarray,
    centroids: np.ndarray,
    s: TopicSettings,
    offsets: dict[str, np.ndarray] | None = None,
) -> int:
    emb = _embedding_matrix(batch)
    if offsets:
        emb = center_languages(emb, batch["lang"].to_pylist(), offsets)
    topics, sims = assign(emb, topic_ids, centroids, s.outlier_threshold)
    table = pa.table(
        {
            "post_id": batch["post_id"],
            "topic_id": pa.array(topics, pa.int32()),
            "similarity": pa.array(sims, pa.float32()),
        }
    )
    con.register("_assign", table)
    try:
        with transaction(con):
            con.execute(
                "INSERT INTO post_topics SELECT ?, post_id, topic_id, similarity, 'centroid', ? "
                "FROM _assign",
                [run_id, utcnow()],
            )
            mark_write(con, "topics", table.num_rows)
    finally:
        con.unregister("_assign")
    return table.num_rows


# ----------------------------------------------------------------------------- quality


def evaluate_run(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, float] | None:
    """Adjusted Rand index and purity of a run against ``simulated_truth.storyline``
    (None when the run holds no simulated post). ``*_assigned`` leave outliers out."""
    from sklearn.metrics import adjusted_rand_score

    rows = con.execute(
        "SELECT pt.topic_id, st.storyline FROM post_topics pt "
        "JOIN simulated_truth st USING (post_id) WHERE pt.run_id = ?",
        [run_id],
    ).fetchall()
    if not rows:
        return None
    topics = np.array([r[0] for r in rows])
    truth = np.array([r[1] for r in rows])
    assigned = topics != OUTLIER
    return {
        "posts": len(rows),
        "ari": round(float(adjusted_rand_score(truth, topics)), 4),
        "purity": round(purity(topics, truth), 4),
        "ari_assigned": round(float(adjusted_rand_score(truth[assigned], topics[assigned])), 4)
        if assigned.any()
        else 0.0,
        "purity_assigned": round(purity(topics[assigned], truth[assigned]), 4)
        if assigned.any()
        else 0.0,
    }


def purity(clusters: np.ndarray, truth: np.ndarray) -> float:
    """Share of posts whose cluster's majority class is their own class."""
    if len(clusters) == 0:
        return 0.0
    frame = pd.DataFrame({"c": clusters, "t": truth})
    return float(frame.groupby(["c", "t"]).size().groupby(level=0).max().sum() / len(frame))
