"""``hypewatch eval-demo``: the current labels and topics against the simulator's truth.

Registered in :mod:`hypewatch.cli` with ``app.command("eval-demo")(eval_demo_command)``.
Prints, per language, what an analyst reads on the Sentiment and Copyright pages next to
what the simulator generated, then the topic run's agreement with the storylines.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hypewatch.cli_common import DbOption, friendly_errors
from hypewatch.stages import db_path


def _pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.0f}%"


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


@friendly_errors
def eval_demo_command(
    db: DbOption = None,
    campaign: Annotated[
        str | None, typer.Option("--campaign", help="Campaign (default: the only one)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Score the current labels and topics against the simulator's truth (demo data)."""
    import orjson
    from rich.console import Console
    from rich.table import Table

    from analysis.truth_eval import label_quality, topic_quality
    from warehouse.read import reading

    with reading(db_path(db)) as con:
        if campaign is None:
            names = [r[0] for r in con.execute("SELECT DISTINCT campaign FROM posts").fetchall()]
            campaign = names[0] if len(names) == 1 else None
        labels = label_quality(con, campaign)
        topics = topic_quality(con, campaign)
    if not labels:
        raise ValueError("no labelled simulated posts: run `hypewatch demo` (or analyze) first")
    if as_json:
        payload = {"campaign": campaign, "labels": labels, "topics": topics}
        sys.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    out = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title="Labels vs simulated truth, by platform language", title_justify="left")
    heads = (
        "language", "posts", "sentiment accuracy", "predicted positive", "true positive",
        "predicted negative", "true negative", "copyright precision", "copyright recall",
    )  # fmt: skip
    for h in heads:
        table.add_column(h, justify="left" if h == "language" else "right")
    for r in labels:
        table.add_row(
            r["lang"], f"{r['posts']:,}", _num(r["sentiment_accuracy"]),
            _pct(r["predicted_positive"]), _pct(r["true_positive"]),
            _pct(r["predicted_negative"]), _pct(r["true_negative"]),
            _num(r["copyright_precision"]), _num(r["copyright_recall"]),
        )  # fmt: skip
    out.print(table)
    if topics is None:
        out.print("No topic run yet (`hypewatch topics`).")
        return
    out.print(
        f"Topic run {topics['run_id']}: adjusted Rand index vs storylines "
        f"{topics.get('ari', float('nan')):.3f} (assigned posts only "
        f"{topics.get('ari_assigned', float('nan')):.3f}), purity {topics.get('purity', 0):.3f}"
    )
    t2 = Table(title="Largest topics", title_justify="left")
    for h in ("topic", "posts", "name", "main language", "its share"):
        t2.add_column(h, justify="right" if h in ("topic", "posts", "its share") else "left")
    for t in topics["largest"]:
        t2.add_row(
            str(t["topic_id"]), f"{t['posts']:,}", t["name"], t["top_lang"],
            _pct(t["top_lang_share"]),
        )  # fmt: skip
    out.print(t2)
