"""Summary statistics of an evaluation: full-pass rate and mean score, with standard errors.

Episodes whose status is "error" (the harness or env broke, not the agent) are counted separately
and left out of the rates: they say nothing about the agent.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable

from ale_gym.tasks.taxonomy import load_taxonomy


def _mean_se(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and its standard error (sample standard deviation / sqrt(n)); SE is None below 2 values."""
    n = len(values)
    if n == 0:
        return None, None
    mean = sum(values) / n
    if n < 2:
        return mean, None
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def group_stats(records: list[dict[str, Any]]) -> dict[str, Any]:
    scored = [r for r in records if r.get("status") != "error"]
    rate, rate_se = _mean_se([1.0 if r.get("full_pass") else 0.0 for r in scored])
    score, score_se = _mean_se([float(r.get("score") or 0.0) for r in scored])
    return {
        "episodes": len(scored),
        "errors": len(records) - len(scored),
        "full_pass_rate": rate,
        "full_pass_se": rate_se,
        "mean_score": score,
        "mean_score_se": score_se,
    }


def _grouped(records: Iterable[dict[str, Any]], field: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[str(record.get(field, "?"))].append(record)
    return {name: group_stats(group) for name, group in sorted(groups.items(), key=lambda kv: _sort_key(kv[0]))}


def _sort_key(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in name.replace("-", ".").split("."))


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Overall, by cluster, by tier and by task."""
    clusters = load_taxonomy().clusters
    by_cluster = _grouped(records, "cluster")
    for cid, stats in by_cluster.items():
        stats["name"] = clusters.get(cid, "")
    return {
        "overall": group_stats(records),
        "by_cluster": by_cluster,
        "by_tier": _grouped(records, "tier"),
        "by_task": _grouped(records, "task_id"),
    }


def _fmt(value: float | None, se: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" + (f" ± {se:.3f}" if se is not None else "")


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str, int, int, str, str]]:
    """(grouping, group, episodes, errors, full-pass rate, mean score) rows for printing."""
    rows = []
    overall = summary["overall"]
    rows.append(("overall", "all", overall["episodes"], overall["errors"],
                 _fmt(overall["full_pass_rate"], overall["full_pass_se"]), _fmt(overall["mean_score"], overall["mean_score_se"])))
    for grouping, label in (("by_cluster", "cluster"), ("by_tier", "tier"), ("by_task", "task")):
        for name, stats in summary[grouping].items():
            shown = f"{name} {stats['name']}" if stats.get("name") else name
            rows.append((label, shown, stats["episodes"], stats["errors"],
                         _fmt(stats["full_pass_rate"], stats["full_pass_se"]), _fmt(stats["mean_score"], stats["mean_score_se"])))
    return rows


def format_summary(summary: dict[str, Any]) -> str:
    header = ("by", "group", "episodes", "errors", "full-pass rate ± SE", "mean score ± SE")
    return format_table(header, summary_rows(summary))


def format_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    """A plain aligned text table."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
