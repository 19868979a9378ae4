"""The search evaluation's Markdown (ready for BENCHMARKS.md) and its one-line summary."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from finetune.search_evaluation import FIELD_LABELS

SHOPPER_COLUMNS = ("P@10", *(f"{label} P@10" for label in FIELD_LABELS.values()), "nDCG@10")
NAME_COLUMNS = ("R@10", "MRR@10", "Hit@10")


def _cell(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown_report(payload: Mapping[str, Any]) -> str:
    """One row per search setting, then the photo-alone baseline and (with --tune) the best fusion weights."""
    head = [
        "search",
        *(f"shopper {c}" if c == "P@10" else c for c in SHOPPER_COLUMNS),
        *(f"name {c}" for c in NAME_COLUMNS),
        "photo+text P@10",
        "p50 ms",
        "p95 ms",
    ]
    lines = [
        f"Gallery: {payload['gallery']['description']} ({payload['gallery']['products']} products); "
        f"{payload['queries']['shopper']} shopper queries, {payload['queries']['names']} display names, "
        f"{payload['queries']['composed']} composed queries; seed {payload['seed']}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + " --- |" * len(head),
    ]
    for label, tasks in payload["results"].items():
        shopper, names = tasks["shopper"], tasks["display_name"]
        composed = tasks.get("composed", {}).get("P@10")
        cells = [label, *(_cell(shopper.get(c)) for c in SHOPPER_COLUMNS), *(_cell(names.get(c)) for c in NAME_COLUMNS),
                 _cell(composed), _cell(shopper.get("p50_ms"), 1), _cell(shopper.get("p95_ms"), 1)]
        lines.append("| " + " | ".join(cells) + " |")
    photo = payload.get("photo_alone")
    if photo is not None:
        lines += ["", f"Composed task, the photo alone (no text): P@10 {_cell(photo.get('P@10'))}."]
    lines += ["", f"Command: `{payload['command']}`"]
    tuning = payload.get("tuning")
    if tuning:
        lines += ["", tuning_table(tuning)]
    return "\n".join(lines) + "\n"


def tuning_table(trials: Sequence[Mapping[str, Any]], rows: int = 5) -> str:
    lines = [
        "Fusion weights tried (best first; score = shopper P@10 + name Hit@10):",
        "",
        "| image | text | keywords | shopper P@10 | name Hit@10 | score |",
        "|" + " --- |" * 6,
    ]
    for trial in trials[:rows]:
        w = trial["weights"]
        lines.append(
            f"| {w['image']:g} | {w['text']:g} | {w['keywords']:g} | "
            f"{_cell(trial['shopper P@10'])} | {_cell(trial['name Hit@10'])} | {_cell(trial['score'])} |"
        )
    return "\n".join(lines)


def summary_line(payload: Mapping[str, Any], json_path: str, markdown_path: str) -> str:
    """The first setting's headline numbers, and where the files went."""
    label, tasks = next(iter(payload["results"].items()))
    shopper, names = tasks["shopper"], tasks["display_name"]
    text = (
        f"evaluated {len(payload['results'])} search setting(s) on {payload['gallery']['products']} products; "
        f"{label}: shopper P@10 {_cell(shopper.get('P@10'))}, name Hit@10 {_cell(names.get('Hit@10'))}, "
        f"p50 {_cell(shopper.get('p50_ms'), 1)} ms"
    )
    if "composed" in tasks and payload.get("photo_alone"):
        text += f", photo+text P@10 {_cell(tasks['composed']['P@10'])} (photo alone {_cell(payload['photo_alone']['P@10'])})"
    if payload.get("tuning"):
        text += f"; best fusion weights {payload['tuning'][0]['weights']}"
    return text + f"; wrote {json_path} and {markdown_path}"
