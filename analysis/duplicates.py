"""Near-duplicate and bot-like clusters, so spam cannot drive a trend.

Each post becomes a set of word shingles (3 consecutive words of its normalized text: lower
case, links, @mentions, #hashtags, emoji and punctuation removed; Chinese, Japanese and
Korean characters count as one word each). MinHash signatures estimate the Jaccard
similarity of two posts' shingle sets; locality-sensitive hashing (bands of the signature,
keyed by a time window) finds candidate pairs, a candidate is kept when its estimated
Jaccard reaches the threshold, and connected components of kept pairs are the clusters.
Everything is vectorized with numpy: no Python loop over pairs.

A cluster of at least ``min_cluster`` posts is

* ``bot_like`` when most of its posts come from accounts that posted it more than once, or
  carry a link (promotional near-duplicates): every post of it is flagged;
* ``near_duplicate`` otherwise (the same headline or copypasta posted by many people): every
  post but the earliest is flagged, so the content counts once.

Flagged posts go to ``post_flags`` and are left out of volumes, spikes and indices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#][\w.-]+")
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
_LINK = re.compile(r"https?://|www\.")


@dataclass(frozen=True)
class DuplicateSettings:
    threshold: float = 0.8
    """Estimated Jaccard similarity of two posts' shingle sets that makes them duplicates."""
    shingle: int = 3
    """Words per shingle."""
    num_perm: int = 64
    """MinHash permutations (signature length)."""
    bands: int = 16
    """LSH bands (``num_perm / bands`` rows each)."""
    window_hours: int = 24
    """Only posts at most about this far apart in time are compared."""
    min_cluster: int = 3
    """Posts a cluster needs before it is flagged."""
    bot_share: float = 0.5
    """Share of repeat-account or link posts that makes a cluster bot-like."""
    seed: int = 1


def tokens(text: str) -> list[str]:
    """Normalized words of a post (CJK characters one by one)."""
    return _TOKEN.findall(_NOISE.sub(" ", text.lower()))


def shingle_hashes(texts: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat uint64 hashes of every text's k-word shingles, and each text's start offset.

    A text shorter than ``k`` words is one shingle; a text without words has none.
    """
    vocab: dict[str, int] = {}
    ids: list[int] = []
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    for i, text in enumerate(texts):
        words = tokens(text)
        ids.extend(vocab.setdefault(w, len(vocab) + 1) for w in words)
        starts[i + 1] = len(ids)
    word_ids = np.asarray(ids, dtype=np.uint64)
    lengths = np.diff(starts)
    # Shingle j of a text starts at word j; a text of n >= 1 words has max(n - k + 1, 1).
    counts = np.where(lengths > 0, np.maximum(lengths - k + 1, 1), 0)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    owner = np.repeat(np.arange(len(texts)), counts)
    first = starts[owner] + (np.arange(offsets[-1]) - offsets[owner])
    hashes = np.zeros(offsets[-1], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            pos = first + j
            inside = pos < starts[owner + 1]
            word = np.where(inside, word_ids[np.minimum(pos, max(len(word_ids) - 1, 0))], 0)
            hashes = hashes * np.uint64(0x100000001B3) + word
            hashes ^= hashes >> np.uint64(29)
    return hashes, offsets


def minhash(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """(n_texts, num_perm) uint32 MinHash signatures; texts without shingles get all-max."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    n = len(offsets) - 1
    sig = np.full((n, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    has = np.diff(offsets) > 0
    if not has.any():
        return sig
    starts = offsets[:-1][has]
    with np.errstate(over="ignore"):
        for j in range(num_perm):
            values = ((hashes * a[j] + b[j]) >> np.uint64(32)).astype(np.uint32)
            sig[has, j] = np.minimum.reduceat(values, starts)
    return sig


def cluster_signatures(
    sig: np.ndarray, hours: np.ndarray, valid: np.ndarray, settings: DuplicateSettings
) -> np.ndarray:
    """Cluster label per row (connected components of verified LSH candidate pairs).

    ``hours``: each post's time in hours (float); ``valid``: rows that have shingles.
    """
    n, num_perm = sig.shape
    rows = num_perm // settings.bands
    window = float(settings.window_hours)
    src: list[np.ndarray] = []
    dst: list[np.ndarray] = []
    idx = np.flatnonzero(valid)
    if len(idx):
        windows = [np.floor(hours[idx] / window), np.floor(hours[idx] / window + 0.5)]
        with np.errstate(over="ignore"):
            for band in range(settings.bands):
                part = sig[idx, band * rows : (band + 1) * rows].astype(np.uint64)
                key = np.full(len(idx), band + 1, dtype=np.uint64)
                for c in range(rows):
                    key = key * np.uint64(0x9E3779B97F4A7C15) + part[:, c]
                for shift, w in enumerate(windows):
                    full = key * np.uint64(31) + w.astype(np.int64).astype(np.uint64) * 2 + shift
                    _, first, inverse = np.unique(full, return_index=True, return_inverse=True)
                    rep = first[inverse]
                    pair = rep != np.arange(len(idx))
                    src.append(idx[pair])
                    dst.append(idx[rep[pair]])
    if src:
        a, b = np.concatenate(src), np.concatenate(dst)
        edges = np.unique(np.stack([a, b], axis=1), axis=0) if len(a) else np.empty((0, 2), int)
        agree = (sig[edges[:, 0]] == sig[edges[:, 1]]).mean(axis=1) if len(edges) else []
        kept = edges[np.asarray(agree) >= settings.threshold]
    else:
        kept = np.empty((0, 2), dtype=np.int64)
    graph = coo_matrix((np.ones(len(kept)), (kept[:, 0], kept[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


def find_duplicates(
    post_ids: list[str],
    texts: list[str],
    hours: np.ndarray,
    authors: list[str | None],
    settings: DuplicateSettings | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Clusters and flags for one set of posts -> (``clusters``, ``flags``) Arrow tables.

    ``clusters``: cluster (0..), kind, posts, authors, first_post (row index);
    ``flags``: post_id, cluster, flag. Posts in no cluster of ``min_cluster`` posts are in
    neither table.
    """
    settings = settings or DuplicateSettings()
    hashes, offsets = shingle_hashes(texts, settings.shingle)
    sig = minhash(hashes, offsets, settings.num_perm, settings.seed)
    valid = np.diff(offsets) > 0
    labels = cluster_signatures(sig, np.asarray(hours, dtype=np.float64), valid, settings)
    return _flag_clusters(post_ids, texts, hours, authors, labels, valid, settings)


def _flag_clusters(
    post_ids: list[str],
    texts: list[str],
    hours: np.ndarray,
    authors: list[str | None],
    labels: np.ndarray,
    valid: np.ndarray,
    settings: DuplicateSettings,
) -> tuple[pa.Table, pa.Table]:
    labels = np.where(valid, labels, -1)
    sizes = np.bincount(labels[labels >= 0], minlength=labels.max() + 1 if len(labels) else 0)
    member = np.flatnonzero((labels >= 0) & (sizes[np.maximum(labels, 0)] >= settings.min_cluster))
    empty_clusters = pa.table(
        {
            "cluster": pa.array([], pa.int64()),
            "kind": pa.array([], pa.string()),
            "posts": pa.array([], pa.int64()),
            "authors": pa.array([], pa.int64()),
            "first_post_id": pa.array([], pa.string()),
        }
    )
    empty_flags = pa.table(
        {
            "post_id": pa.array([], pa.string()),
            "cluster": pa.array([], pa.int64()),
            "flag": pa.array([], pa.string()),
        }
    )
    if not len(member):
        return empty_clusters, empty_flags
    # Renumber clusters 0.. by their earliest post (stable for the same data).
    order = member[np.lexsort((np.asarray(post_ids, dtype=object)[member], hours[member]))]
    _, first_pos = np.unique(labels[order], return_index=True)
    firsts = order[np.sort(first_pos)]
    new_id = {int(labels[f]): i for i, f in enumerate(firsts)}
    cluster = np.array([new_id[int(labels[i])] for i in member], dtype=np.int64)
    n_clusters = len(firsts)

    author_key = [f"{authors[i]}" if authors[i] is not None else f"?{i}" for i in member]
    pair_index: dict[tuple[int, str], int] = {}
    for c, a in zip(cluster.tolist(), author_key, strict=True):
        pair_index[(c, a)] = pair_index.get((c, a), 0) + 1
    repeat = np.array(
        [pair_index[(c, a)] > 1 for c, a in zip(cluster.tolist(), author_key, strict=True)]
    )
    link = np.array([bool(_LINK.search(texts[i])) for i in member])
    size = np.bincount(cluster, minlength=n_clusters)
    n_authors = np.bincount([c for (c, _a) in pair_index], minlength=n_clusters)
    suspicious = np.bincount(cluster, weights=(repeat | link).astype(float), minlength=n_clusters)
    bot = suspicious / size >= settings.bot_share
    is_first = np.isin(member, firsts)
    flagged = bot[cluster] | ~is_first
    clusters = pa.table(
        {
            "cluster": pa.array(np.arange(n_clusters), pa.int64()),
            "kind": pa.array(np.where(bot, "bot_like", "near_duplicate").tolist(), pa.string()),
            "posts": pa.array(size, pa.int64()),
            "authors": pa.array(n_authors, pa.int64()),
            "first_post_id": pa.array([post_ids[i] for i in firsts], pa.string()),
        }
    )
    flags = pa.table(
        {
            "post_id": pa.array([post_ids[i] for i in member[flagged]], pa.string()),
            "cluster": pa.array(cluster[flagged], pa.int64()),
            "flag": pa.array(
                np.where(bot[cluster[flagged]], "bot_like", "near_duplicate").tolist(), pa.string()
            ),
        }
    )
    return clusters, flags
