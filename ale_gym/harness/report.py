"""A static HTML report of an evaluation run: open `report/index.html` in any browser, no server.

The index holds the summary tables (by cluster, tier and task, with standard errors), bar charts of the
full-pass rate and mean score per task, and a table of every episode. Each episode page shows the final
milestone verdicts, the milestone reward curve (the potential after every step) and the timeline:
per step a screenshot thumbnail (when the screen changed), the action, its reward and the terminal
excerpt. Thumbnails are made with Pillow from the recorder's PNGs; pages use no script and no
external resource, and every image path is relative, so the run folder can be copied or archived whole.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from PIL import Image

from ale_gym import actions as A
from ale_gym.harness.recorder import read_trajectory
from ale_gym.harness.runner import TRAJECTORIES
from ale_gym.harness.store import RUN_FILE, read_records
from ale_gym.harness.summary import summarize, summary_rows
from ale_gym.harness.svg import bar_chart, step_chart

REPORT_DIR = "report"
THUMB_WIDTH = 320
TEXT_LIMIT = 1500

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px; color: #1d2330; background: #fafbfc; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; } h3 { font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0 16px; background: #fff; }
th, td { border: 1px solid #d5d9e0; padding: 4px 8px; text-align: left; font-size: 13px; vertical-align: top; }
th { background: #eef1f5; }
.pass { color: #116b2b; font-weight: bold; } .fail { color: #a4161a; font-weight: bold; }
.warn { color: #9a5b00; font-weight: bold; }
pre { background: #f0f2f5; padding: 6px; margin: 0; max-width: 720px; white-space: pre-wrap; word-break: break-word; font-size: 12px; }
.chart { background: #fff; border: 1px solid #d5d9e0; margin: 6px 12px 6px 0; }
.chart-title { font-size: 13px; font-weight: bold; fill: #1d2330; }
.label, .value, .tick { font-size: 11px; fill: #39404d; }
.grid { stroke: #e1e5eb; stroke-width: 1; } .bar { fill: #4a7bd0; } .whisker { stroke: #1d2330; stroke-width: 2; }
.curve { fill: none; stroke: #2a9d55; stroke-width: 2; } .dot { fill: #2a9d55; }
.thumb { width: 320px; border: 1px solid #c3c8d0; display: block; }
.chip { display: inline-block; padding: 1px 6px; margin: 1px; border-radius: 8px; font-size: 11px; }
.chip.on { background: #d3f2dc; } .chip.off { background: #f3d6d7; }
.meta td:first-child { font-weight: bold; }
"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def _cut(text: str, limit: int = TEXT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + f"\n[... {len(text) - limit} characters cut ...]\n" + text[-half:]


def _status(record: dict[str, Any]) -> str:
    status = str(record.get("status"))
    css = "pass" if status == "ok" else ("warn" if status == "agent_error" else "fail")
    return f'<span class="{css}">{escape(status)}</span>'


def _verdict(passed: Any) -> str:
    return '<span class="pass">pass</span>' if passed else '<span class="fail">fail</span>'


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _action_html(text: str) -> str:
    """Code actions shown as code (the recorded text form escapes newlines), others as written."""
    try:
        action = A.parse(text)
    except ValueError:
        return f"<pre>{escape(_cut(text))}</pre>"
    kind = A.kind_of(action)
    if kind in ("shell", "python"):
        return f"<strong>{kind}</strong><pre>{escape(_cut(action['text']))}</pre>"
    return f"<pre>{escape(_cut(text))}</pre>"


def _thumbnail(source: Path, target: Path) -> bool:
    """A small PNG of a recorded frame; False when the frame is missing or unreadable."""
    try:
        if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
            with Image.open(source) as image:
                image = image.convert("RGB")
                ratio = THUMB_WIDTH / max(1, image.width)
                small = image.resize((THUMB_WIDTH, max(1, round(image.height * ratio))), Image.Resampling.LANCZOS)
            target.parent.mkdir(parents=True, exist_ok=True)
            small.save(target, optimize=True)
        return True
    except (OSError, ValueError):
        return False


def _episode_page(record: dict[str, Any], run_dir: Path, report_dir: Path) -> str:
    name = record.get("trajectory")
    title = f"{record['task_id']} · {record['tier']} · seed {record['seed']}"
    facts = [["task", escape(record["task_id"])], ["tier", escape(record["tier"])], ["seed", str(record["seed"])],
             ["agent", escape(str(record.get("agent")))], ["status", _status(record)],
             ["score", f"{float(record.get('score') or 0):.3f}"], ["full pass", _verdict(record.get("full_pass"))],
             ["steps", str(record.get("steps"))], ["wall time", f"{float(record.get('seconds') or 0):.1f} s"]]
    body = [f"<p><a href=\"../index.html\">← all episodes</a></p><h1>{escape(title)}</h1>",
            "<table class=\"meta\"><tbody>" + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in facts) + "</tbody></table>"]
    if record.get("error"):
        body.append(f"<h2>Error</h2><pre>{escape(_cut(str(record['error'])))}</pre>")
    milestones = record.get("milestones") or {}
    body.append("<h2>Milestones</h2>" + _table(["milestone", "weight", "result", "detail"], [
        [escape(mid), f"{float(m.get('weight') or 0):.3f}", _verdict(m.get("passed")), escape(_cut(str(m.get("detail") or ""), 600))]
        for mid, m in milestones.items()]))
    steps = read_trajectory(run_dir / TRAJECTORIES / name) if name else []
    if not steps:
        body.append("<p>No trajectory was recorded for this episode.</p>")
        return _page(title, "\n".join(body))
    step_records = [s for s in steps if s.get("type") == "step"]
    curve = [0.0] + [float(s.get("score") or 0.0) for s in step_records]
    body.append("<h2>Milestone reward curve</h2>" + step_chart(curve, "score (milestone potential) after each step",
                                                                marks=[(i, str(i)) for i in range(len(curve))] if len(curve) <= 30 else None))
    rows = []
    for item in steps:
        if item.get("type") not in ("reset", "step"):
            continue
        frame_cell = ""
        frame = item.get("frame")
        if frame and item.get("frame_changed"):
            source = run_dir / TRAJECTORIES / name / frame
            thumb = report_dir / "thumbs" / name / frame
            if _thumbnail(source, thumb):
                frame_cell = (f'<a href="../../{TRAJECTORIES}/{escape(name)}/{escape(frame)}">'
                              f'<img class="thumb" src="../thumbs/{escape(name)}/{escape(frame)}" alt="screen after step {item.get("step", 0)}"></a>')
        elif frame:
            frame_cell = "<em>screen unchanged</em>"
        if item["type"] == "reset":
            rows.append(["0", frame_cell, "<em>reset</em>", "", "0.000",
                         f"workspace files<pre>{escape(_cut(str(item.get('files') or '')))}</pre>"])
            continue
        chips = "".join(f'<span class="chip {"on" if m.get("passed") else "off"}" title="{escape(str(m.get("detail") or ""))}">{escape(mid)}</span>'
                        for mid, m in (item.get("milestones") or {}).items())
        exit_code = item.get("exit_code")
        terminal = escape(_cut(str(item.get("terminal") or "")))
        rows.append([str(item.get("step")), frame_cell, _action_html(str(item.get("action"))),
                     f"{float(item.get('reward') or 0):+.3f}", f"{float(item.get('score') or 0):.3f}<br>{chips}",
                     (f"exit {exit_code}<br>" if exit_code is not None else "") + (f"<pre>{terminal}</pre>" if terminal else "")])
    body.append("<h2>Timeline</h2>" + _table(["step", "screen", "action", "reward", "score / milestones", "terminal"], rows))
    end = next((s for s in reversed(steps) if s.get("type") == "end"), None)
    if end is not None:
        body.append(f"<p>Episode ended: {escape(str(end.get('reason')))} after {end.get('steps')} steps, "
                    f"return {float(end.get('return') or 0):.3f}.</p>")
    return _page(title, "\n".join(body))


def _page_name(record: dict[str, Any]) -> str:
    return f"{str(record['task_id']).replace('/', '_')}_{record['tier']}_seed{record['seed']}.html"


def write_report(run_dir: str | Path) -> Path:
    """Write `report/index.html` and one page per episode into the run folder; return the index path."""
    run_dir = Path(run_dir)
    records = read_records(run_dir)
    if not records:
        raise ValueError(f"{run_dir} holds no episode results (episodes.jsonl)")
    records.sort(key=lambda r: (str(r["task_id"]), str(r["tier"]), int(r["seed"])))
    report_dir = run_dir / REPORT_DIR
    (report_dir / "episodes").mkdir(parents=True, exist_ok=True)
    summary = summarize(records)
    settings = {}
    if (run_dir / RUN_FILE).is_file():
        settings = json.loads((run_dir / RUN_FILE).read_text("utf-8"))
    body = [f"<h1>ale_gym evaluation: agent {escape(str(settings.get('agent', '?')))}</h1>",
            f"<p>{len(records)} episodes. Full-pass rates and mean scores are given ± one standard error; "
            "episodes that errored in the harness are counted apart.</p>",
            "<h2>Summary</h2>",
            _table(["by", "group", "episodes", "errors", "full-pass rate ± SE", "mean score ± SE"],
                   [[escape(str(c)) for c in row] for row in summary_rows(summary)])]
    tasks = summary["by_task"]
    labels = list(tasks)
    body.append("<div>" + bar_chart(labels, [tasks[t]["full_pass_rate"] for t in labels], [tasks[t]["full_pass_se"] for t in labels],
                                    "full-pass rate by task (± SE)")
                + bar_chart(labels, [tasks[t]["mean_score"] for t in labels], [tasks[t]["mean_score_se"] for t in labels],
                            "mean score by task (± SE)") + "</div>")
    tiers = summary["by_tier"]
    body.append("<div>" + bar_chart(list(tiers), [tiers[t]["mean_score"] for t in tiers], [tiers[t]["mean_score_se"] for t in tiers],
                                    "mean score by tier (± SE)") + "</div>")
    rows = []
    for record in records:
        page = _page_name(record)
        (report_dir / "episodes" / page).write_text(_episode_page(record, run_dir, report_dir), encoding="utf-8")
        failing = [mid for mid, m in (record.get("milestones") or {}).items() if not m.get("passed")]
        rows.append([f'<a href="episodes/{escape(page)}">{escape(str(record["task_id"]))}</a>', escape(str(record["tier"])),
                     str(record["seed"]), _status(record), f"{float(record.get('score') or 0):.3f}",
                     _verdict(record.get("full_pass")), str(record.get("steps")), f"{float(record.get('seconds') or 0):.1f}",
                     escape(", ".join(failing))])
    body.append("<h2>Episodes</h2>" + _table(["task", "tier", "seed", "status", "score", "full pass", "steps", "seconds",
                                              "milestones not passed"], rows))
    index = report_dir / "index.html"
    index.write_text(_page("ale_gym evaluation report", "\n".join(body)), encoding="utf-8")
    return index
