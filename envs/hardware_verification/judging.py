"""Judging the written deliverables: the bug report, and whether fixed RTL stays synthesisable and local.

These are pure functions over text, so they are tested directly and never run agent code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from . import hdl

ALLOWED_SYSTEM_FUNCTIONS = {"$clog2", "$signed", "$unsigned"}
ALLOWED_DIRECTIVES = {"`timescale", "`default_nettype", "`resetall"}
FORBIDDEN_KEYWORDS = {"initial", "force", "release", "fork", "join", "wait", "deassign", "specify", "table",
                      "primitive", "event"}
LINE_TOLERANCE = 3
MIN_EXPLANATION_WORDS = 8


@dataclass
class ReportVerdict:
    passed: bool
    detail: str
    metrics: dict[str, object] = field(default_factory=dict)


def judge_report(text: str, module: str, bug_lines: list[int], signals: tuple[str, ...]) -> ReportVerdict:
    """The report names the buggy module and one signal or one line; it passes if either is right."""
    try:
        report = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return ReportVerdict(False, f"bug_report.json is not valid JSON: {exc}")
    if not isinstance(report, dict):
        return ReportVerdict(False, "bug_report.json must be a JSON object")
    missing = [k for k in ("module", "signal", "line", "explanation") if k not in report]
    if missing:
        return ReportVerdict(False, f"bug_report.json lacks {missing}")
    named_module = report["module"]
    if not isinstance(named_module, str) or re.sub(r"\.s?v$", "", named_module.strip().split("/")[-1]) != module:
        return ReportVerdict(False, f"module {str(named_module)[:80]!r} is not the module that holds the bug")
    explanation = report["explanation"]
    if not isinstance(explanation, str) or len(explanation.split()) < MIN_EXPLANATION_WORDS:
        return ReportVerdict(False, f"the explanation must be a paragraph of at least {MIN_EXPLANATION_WORDS} words")

    signal_ok, signal_note = _judge_signal(report["signal"], signals)
    line_ok, line_note = _judge_line(report["line"], bug_lines)
    if signal_note.startswith("names") or line_note.startswith("names"):
        return ReportVerdict(False, f"{signal_note}; {line_note}: name one signal and one line")
    passed = signal_ok or line_ok
    return ReportVerdict(passed, f"{signal_note}; {line_note}", {"signal_ok": signal_ok, "line_ok": line_ok})


def _judge_signal(value: object, signals: tuple[str, ...]) -> tuple[bool, str]:
    if not isinstance(value, str) or not value.strip():
        return False, "no signal named"
    items = [s for s in re.split(r"[\s,;/|&+]+|\band\b|\bor\b", value.strip()) if s]
    if len(items) != 1:
        return False, f"names {len(items)} signals"
    name = re.sub(r"\[[^\]]*\]", "", items[0]).split(".")[-1]
    if name in signals:
        return True, f"signal {name!r} is the faulty one"
    return False, f"signal {name[:60]!r} is not where the bug is"


def _judge_line(value: object, bug_lines: list[int]) -> tuple[bool, str]:
    if isinstance(value, list):
        if len(value) != 1:
            return False, f"names {len(value)} lines"
        value = value[0]
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        return False, "line is not a line number"
    distance = min(abs(value - line) for line in bug_lines)
    if distance <= LINE_TOLERANCE:
        return True, f"line {value} is {distance} from the bug"
    return False, f"line {value} is {distance} lines from the bug"


def rule_violations(source: str) -> list[str]:
    """Constructs that make RTL non-synthesisable or let it reach into its testbench."""
    problems: list[str] = []
    clean = hdl.strip_comments(source)
    if re.search(r'"', clean):
        problems.append("string literal")
    for token in hdl.tokens(source):
        if token.startswith("$") and token not in ALLOWED_SYSTEM_FUNCTIONS:
            problems.append(f"system task {token}")
        elif token.startswith("`") and token not in ALLOWED_DIRECTIVES:
            problems.append(f"compiler directive {token}")
        elif token in FORBIDDEN_KEYWORDS:
            problems.append(f"'{token}'")
    if re.search(r"#\s*\d", clean):
        problems.append("delay (#n)")
    if re.search(r"[A-Za-z_][\w$]*\s*\.\s*[A-Za-z_]", clean):
        problems.append("hierarchical reference")
    seen: set[str] = set()
    return [p for p in problems if not (p in seen or seen.add(p))]


def other_modules_changed(given: dict[str, str], fixed: dict[str, str], buggy_module: str) -> list[str]:
    """Modules other than the buggy one whose token stream differs between given and fixed RTL."""
    return [m for m in given if m != buggy_module and hdl.tokens(fixed.get(m, "")) != hdl.tokens(given[m])]
