"""The simulated launch week: shape, dynamics, wording, threads and payload validity."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from ingest.simulator import STORYLINES, SimulatedCorpus, simulate

SIZE = 3000
START = datetime(2025, 3, 20, tzinfo=UTC)
END = datetime(2025, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def corpus() -> SimulatedCorpus:
    return simulate(SIZE, seed=7)


@pytest.fixture(scope="module")
def full_week() -> SimulatedCorpus:
    """The one default-size run (20,000 posts); its speed is measured in bench/ingest.py."""
    return simulate(20_000, seed=42)


def _strip_html(s: str) -> str:
    s = re.sub(r"<p>|</p>|<br\s*/?>", " ", s)
    s = re.sub(r"<[^>]+>", "", s)
    return s.replace("&#39;", "'").replace("&#x27;", "'").replace("&quot;", '"').replace(
        "&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")  # fmt: skip


def records(c: SimulatedCorpus) -> list[dict[str, Any]]:
    """One row per post read straight from the native payloads (independent of parsers)."""
    out = []
    for fmt, payload in c.payloads:
        if fmt == "x-v2":
            for t in payload["data"]:
                out.append({"id": f"x:{t['id']}", "text": t["text"], "raw": t})
        elif fmt == "bluesky":
            for p in payload["posts"]:
                out.append({"id": f"bluesky:{p['uri']}", "text": p["record"]["text"], "raw": p})
        elif fmt == "mastodon":
            for s in payload:
                out.append({"id": f"mastodon:{s['uri']}", "text": _strip_html(s["content"]),
                            "raw": s})  # fmt: skip
        elif fmt == "reddit":
            for ch in payload["data"]["children"]:
                d = ch["data"]
                text = d["body"] if ch["kind"] == "t1" else f"{d['title']}\n{d['selftext']}"
                out.append({"id": f"reddit:{d['name']}", "text": text, "raw": d})
        elif fmt == "hn":
            for h in payload["hits"]:
                text = h.get("comment_text") or f"{h['title']}\n{h.get('story_text') or ''}"
                out.append({"id": f"hn:{h['objectID']}", "text": _strip_html(text), "raw": h})
        else:
            raise AssertionError(f"unknown format {fmt}")
    return out


def normalize(text: str) -> str:
    text = re.sub(r"https?://\S+", " ", text.lower())
    text = re.sub(r"@[\w.@-]+", " ", text)
    text = re.sub(r"\d+", " ", text)
    return " ".join(text.split())


def _hourly(truth: list[dict], lo: datetime, hi: datetime) -> list[int]:
    counts = Counter(r["created_at"].replace(minute=0, second=0, microsecond=0) for r in truth)
    hours = int((hi - lo).total_seconds() // 3600)
    return [counts.get(lo + timedelta(hours=h), 0) for h in range(hours)]


# -- size, window, mix -----------------------------------------------------------------------


def test_size_window_and_truth_rows(corpus: SimulatedCorpus) -> None:
    truth = corpus.truth
    assert abs(len(truth) - SIZE) <= SIZE * 0.01
    ids = [r["post_id"] for r in truth]
    assert len(ids) == len(set(ids))
    assert {r["post_id"] for r in truth} == {r["id"] for r in records(corpus)}
    assert len(records(corpus)) == len(truth)  # every post appears exactly once
    for r in truth:
        assert START <= r["created_at"] < END
        assert r["created_at"].tzinfo is not None
        assert r["storyline"] in STORYLINES
        assert r["sentiment"] in ("negative", "neutral", "positive")
        assert r["copyright"] in ("concern", "none")
        assert r["post_id"].startswith(r["platform"] + ":")
    assert min(r["created_at"] for r in truth).date() == date(2025, 3, 20)
    assert max(r["created_at"] for r in truth).date() == date(2025, 4, 4)


def test_deterministic_for_a_seed() -> None:
    a, b, c = simulate(800, seed=3), simulate(800, seed=3), simulate(800, seed=4)
    dump = lambda x: json.dumps(x.payloads, sort_keys=True)  # noqa: E731
    assert dump(a) == dump(b)
    assert a.truth == b.truth
    assert dump(a) != dump(c)


def test_languages_and_platform_mix(corpus: SimulatedCorpus) -> None:
    langs = Counter(r["lang"] for r in corpus.truth)
    assert {"en", "fr", "es", "ja", "de", "pt"} <= set(langs)
    assert len(langs) >= 6 and all(langs[k] >= 20 for k in ("fr", "es", "ja", "de", "pt"))
    mix = Counter(r["platform"] for r in corpus.truth)
    want = {"x": 0.45, "bluesky": 0.18, "reddit": 0.15, "mastodon": 0.12, "hn": 0.10}
    for platform, share in want.items():
        assert abs(mix[platform] / SIZE - share) < 0.02, (platform, mix)
    by_platform: dict[str, Counter] = defaultdict(Counter)
    for r in corpus.truth:
        by_platform[r["platform"]][r["lang"]] += 1
    for platform in ("reddit", "hn", "mastodon"):
        assert by_platform[platform]["en"] / sum(by_platform[platform].values()) > 0.5
    assert len(by_platform["x"]) >= 6 and len(by_platform["bluesky"]) >= 6


# -- dynamics --------------------------------------------------------------------------------


def test_launch_spike(corpus: SimulatedCorpus) -> None:
    launch = datetime(2025, 3, 25, 17, tzinfo=UTC)
    before = _hourly(corpus.truth, launch - timedelta(days=3), launch)
    after = _hourly(corpus.truth, launch, launch + timedelta(hours=3))
    baseline = max(statistics.median(before), 1)
    assert min(after) > 8 * baseline, (after, baseline)
    assert sum(before) / 72 < sum(after) / 3 / 8  # the pre-launch chatter is low


def test_storyline_calendar(corpus: SimulatedCorpus) -> None:
    per_day: dict[date, Counter] = defaultdict(Counter)
    for r in corpus.truth:
        per_day[r["created_at"].date()][r["storyline"]] += 1

    def share(day: date, story: str) -> float:
        return per_day[day][story] / sum(per_day[day].values())

    def span(first: date, last: date, story: str) -> float:
        days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
        return sum(per_day[d][story] for d in days) / sum(sum(per_day[d].values()) for d in days)

    d = lambda m, dd: date(2025, m, dd)  # noqa: E731
    assert share(d(3, 27), "ghibli_wave") > 3 * max(span(d(3, 20), d(3, 24), "ghibli_wave"), 0.01)
    assert span(d(3, 20), d(3, 25), "capacity_melting") < 0.02
    assert share(d(3, 28), "capacity_melting") > 0.1
    assert share(d(3, 31), "signups_free_tier") > 3 * span(d(3, 28), d(3, 29), "signups_free_tier")
    assert share(d(4, 3), "midjourney_v7") > 3 * span(d(3, 31), d(4, 1), "midjourney_v7")
    assert span(d(3, 20), d(3, 24), "rumours") > 0.2
    assert span(d(3, 27), d(3, 29), "rumours") < 0.02
    pre = sum(sum(per_day[d(3, k)].values()) for k in range(20, 25))
    assert pre < 0.08 * SIZE  # low pre-launch chatter


def test_concern_share_rises_over_the_week(corpus: SimulatedCorpus) -> None:
    days = [date(2025, 3, 25) + timedelta(days=k) for k in range(10)]  # 03-25 .. 04-03
    total, concern = Counter(), Counter()
    for r in corpus.truth:
        day = r["created_at"].date()
        total[day] += 1
        concern[day] += r["copyright"] == "concern"
    shares = [concern[d] / total[d] for d in days]
    assert shares[-1] > shares[0] + 0.15, shares
    rising = sum(b > a for a, b in pairwise(shares))
    assert rising >= 6, shares  # mostly day over day
    rank = sorted(range(len(shares)), key=shares.__getitem__)
    spearman = 1 - 6 * sum((i - r) ** 2 for i, r in enumerate(rank)) / (10 * (100 - 1))
    assert spearman > 0.8, shares


def test_diurnal_cycle_follows_time_zones(full_week: SimulatedCorpus) -> None:
    hours: dict[str, Counter] = defaultdict(Counter)
    for r in full_week.truth:
        hours[r["lang"]][r["created_at"].hour] += 1
    # Tokyo evening (20-23 JST = 11-14 UTC) vs Tokyo small hours (3-6 JST = 18-21 UTC).
    ja = hours["ja"]
    assert sum(ja[h] for h in range(11, 15)) > 2 * sum(ja[h] for h in range(18, 22))
    # Brazilian evening (19-22 BRT = 22-01 UTC) vs 04-07 BRT (07-10 UTC).
    pt = hours["pt"]
    assert sum(pt[h] for h in (22, 23, 0, 1)) > 2 * sum(pt[h] for h in range(7, 11))


# -- wording, labels, spam --------------------------------------------------------------------


def test_texts_are_varied(corpus: SimulatedCorpus) -> None:
    spam = {r["post_id"] for r in corpus.truth if r["is_spam"]}
    texts = [normalize(r["text"]) for r in records(corpus) if r["id"] not in spam]
    assert all(texts)
    assert len(set(texts)) / len(texts) >= 0.8


def test_storylines_have_their_own_labels(corpus: SimulatedCorpus) -> None:
    by_story: dict[str, Counter] = defaultdict(Counter)
    for r in corpus.truth:
        by_story[r["storyline"]][r["sentiment"]] += 1
        by_story[r["storyline"]][r["copyright"]] += 1
    assert set(by_story) == set(STORYLINES)
    cr = by_story["copyright_debate"]
    assert cr["none"] == 0 and cr["negative"] > cr["positive"] > 0
    melt = by_story["capacity_melting"]
    assert melt["negative"] > melt["positive"]
    hype = by_story["launch_hype"]
    assert hype["positive"] > hype["negative"]
    ghibli = by_story["ghibli_wave"]
    assert 0 < ghibli["concern"] < 0.3 * ghibli["none"]
    assert by_story["spam"]["concern"] == 0


def test_spam_is_flagged_near_duplicate_and_from_new_accounts(corpus: SimulatedCorpus) -> None:
    truth = {r["post_id"]: r for r in corpus.truth}
    share = sum(r["is_spam"] for r in corpus.truth) / len(corpus.truth)
    assert 0.02 <= share <= 0.04
    spam = [r for r in records(corpus) if truth[r["id"]]["is_spam"]]
    templates = Counter(normalize(re.sub(r"[^\w\s]", "", r["text"]))[:40] for r in spam)
    assert templates.most_common(1)[0][1] >= 5  # the same template, over and over
    assert all(re.search(r"https?://", json.dumps(r["raw"])) for r in spam)
    for r in spam:
        if r["id"].startswith("x:"):
            assert r["raw"]["public_metrics"]["like_count"] < 1000


# -- threads and engagement -------------------------------------------------------------------


def test_threads_point_to_earlier_posts(corpus: SimulatedCorpus) -> None:
    rows = records(corpus)
    when = {r["id"]: r for r in rows}
    n_reply = Counter()
    for r in rows:
        raw, pid = r["raw"], r["id"]
        platform = pid.split(":", 1)[0]
        if platform == "x":
            for ref in raw.get("referenced_tweets", []):
                parent = when[f"x:{ref['id']}"]["raw"]
                assert parent["created_at"] <= raw["created_at"]
                if ref["type"] == "replied_to":
                    assert raw["conversation_id"] == parent["conversation_id"]
                    assert raw["in_reply_to_user_id"] == parent["author_id"]
                    n_reply[platform] += 1
            if "referenced_tweets" not in raw:
                assert raw["conversation_id"] == raw["id"]
        elif platform == "bluesky":
            reply = raw["record"].get("reply")
            if reply:
                parent = when[f"bluesky:{reply['parent']['uri']}"]["raw"]
                root = when[f"bluesky:{reply['root']['uri']}"]["raw"]
                assert parent["cid"] == reply["parent"]["cid"] and "reply" not in root["record"]
                assert parent["record"]["createdAt"] < raw["record"]["createdAt"]
                n_reply[platform] += 1
            embed = raw["record"].get("embed")
            if embed:
                assert f"bluesky:{embed['record']['uri']}" in when
        elif platform == "mastodon" and raw["in_reply_to_id"]:
            by_id = {x["raw"]["id"]: x["raw"] for x in rows if x["id"].startswith("mastodon:")}
            parent = by_id[raw["in_reply_to_id"]]
            assert parent["created_at"] < raw["created_at"]
            assert raw["in_reply_to_account_id"] == parent["account"]["id"]
            n_reply[platform] += 1
        elif platform == "reddit" and raw["name"].startswith("t1_"):
            link = when[f"reddit:{raw['link_id']}"]["raw"]
            parent = when[f"reddit:{raw['parent_id']}"]["raw"]
            assert link["name"].startswith("t3_") and link["created_utc"] <= raw["created_utc"]
            assert parent.get("link_id", parent["name"]) == raw["link_id"]
            assert parent["created_utc"] <= raw["created_utc"]
            n_reply[platform] += 1
        elif platform == "hn" and "comment" in raw["_tags"]:
            story = when[f"hn:{raw['story_id']}"]["raw"]
            parent = when[f"hn:{raw['parent_id']}"]["raw"]
            assert "story" in story["_tags"]
            assert parent.get("story_id") == raw["story_id"]
            assert parent["created_at_i"] <= raw["created_at_i"]
            n_reply[platform] += 1
    for platform in ("x", "bluesky", "mastodon", "reddit", "hn"):
        assert n_reply[platform] > 10, n_reply


def test_engagement_and_authors_are_heavy_tailed(full_week: SimulatedCorpus) -> None:
    c = full_week
    likes = [t["public_metrics"]["like_count"] for f, p in c.payloads if f == "x-v2"
             for t in p["data"]]  # fmt: skip
    assert max(likes) >= 100 * max(statistics.median(likes), 1)
    assert max(likes) >= 10_000  # a few viral posts
    authors = Counter(t["author_id"] for f, p in c.payloads if f == "x-v2" for t in p["data"])
    counts = sorted(authors.values(), reverse=True)
    assert counts[0] >= 20 and sum(n == 1 for n in counts) / len(counts) > 0.4
    assert sum(counts[: len(counts) // 100]) > 0.08 * sum(counts)  # top 1% post > 8%


# -- payload validity -------------------------------------------------------------------------


def test_payloads_are_valid(corpus: SimulatedCorpus) -> None:
    for fmt, payload in corpus.payloads:
        json.dumps(payload)
        if fmt == "x-v2":
            assert 0 < len(payload["data"]) <= 100
            meta = payload["meta"]
            assert meta["result_count"] == len(payload["data"])
            assert meta["newest_id"] == payload["data"][0]["id"]
            assert meta["oldest_id"] == payload["data"][-1]["id"]
            users = {u["id"] for u in payload["includes"]["users"]}
            tweets = payload["data"] + payload["includes"].get("tweets", [])
            assert {t["author_id"] for t in tweets} <= users
            for t in payload["data"]:
                assert set(t["public_metrics"]) >= {
                    "retweet_count",
                    "reply_count",
                    "like_count",
                    "quote_count",
                    "impression_count",
                }
                for h in t.get("entities", {}).get("hashtags", []):
                    assert t["text"][h["start"] : h["end"]] == "#" + h["tag"]
            for u in payload["includes"]["users"]:
                assert {"username", "name", "public_metrics", "verified", "created_at"} <= set(u)
        elif fmt == "bluesky":
            assert 0 < len(payload["posts"]) <= 100
            for p in payload["posts"]:
                assert re.fullmatch(r"at://did:plc:[a-z2-7]{24}/app\.bsky\.feed\.post/[2-7a-z]{13}",
                                    p["uri"])  # fmt: skip
                assert p["record"]["$type"] == "app.bsky.feed.post"
                text = p["record"]["text"].encode()
                for f in p["record"].get("facets", []):
                    seg = text[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode()
                    feat = f["features"][0]
                    assert seg == ("#" + feat["tag"] if "tag" in feat else feat.get("uri"))
        elif fmt == "mastodon":
            assert isinstance(payload, list) and 0 < len(payload) <= 40
            for s in payload:
                assert s["content"].startswith("<p>") and s["reblog"] is None
                assert {"id", "username", "acct", "url", "followers_count"} <= set(s["account"])
        elif fmt == "reddit":
            assert payload["kind"] == "Listing"
            kinds = {ch["kind"] for ch in payload["data"]["children"]}
            assert len(kinds) == 1 and kinds <= {"t1", "t3"}
            for ch in payload["data"]["children"]:
                assert isinstance(ch["data"]["created_utc"], float)
                assert ch["data"]["name"] == f"{ch['kind']}_{ch['data']['id']}"
        elif fmt == "hn":
            assert {"hits", "nbHits", "page", "hitsPerPage"} <= set(payload)
            for h in payload["hits"]:
                assert h["_tags"][0] in ("story", "comment")
                assert isinstance(h["created_at_i"], int)


def test_default_size_is_a_full_week() -> None:
    import inspect

    assert inspect.signature(simulate).parameters["size"].default >= 20_000


# -- replay through the live parsers ----------------------------------------------------------


def test_parsers_accept_every_payload(corpus: SimulatedCorpus) -> None:
    parsers = pytest.importorskip("ingest.parsers")
    if not hasattr(parsers, "get_format"):
        pytest.skip("ingest.parsers.get_format is not there yet")
    ids = set()
    for fmt, payload in corpus.payloads:
        result = parsers.get_format(fmt).parse(payload)
        assert not result.rejects, (fmt, result.rejects[:1])
        ids.update(p.post_id for p in result.posts)
    assert ids == {r["post_id"] for r in corpus.truth}
