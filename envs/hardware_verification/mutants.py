"""Mutation operators on the golden RTL, and the choice of mutants a testbench must kill.

Each operator makes one small, syntactically safe edit (a flipped comparison, a dropped negation, a
deleted assignment, ...). Candidates on the injected bug's lines are skipped so the mutants differ from
it, and candidates the hidden regression cannot tell from the golden design are discarded: an equivalent
mutant would punish a perfect testbench.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import hdl, library, models, simulate, stimulus

# (name, pattern, replacement); each match of the pattern on a body line is one candidate.
OPERATORS: tuple[tuple[str, str, str], ...] = (
    ("eq->ne", r"==", "!="),
    ("ne->eq", r"!=", "=="),
    ("and->or", r"&&", "||"),
    ("or->and", r"\|\|", "&&"),
    ("drop-not", r"!(?=[A-Za-z_(])", ""),
    ("drop-invert", r"~(?=[A-Za-z_({])", ""),
    ("plus->minus", r"(?<=\S) \+ (?=\S)", " - "),
    ("minus->plus", r"(?<=\S) - (?=\S)", " + "),
    ("lt->le", r"(?<=\s)<(?=\s)", "<="),
    ("and->or-bitwise", r"(?<=\S) & (?=\S)", " | "),
    ("or->and-bitwise", r"(?<=\S) \| (?=\S)", " & "),
    ("xor->and", r"(?<=\S) \^ (?=\S)", " & "),
    ("one->zero", r"1'b1", "1'b0"),
    ("zero->one", r"1'b0", "1'b1"),
    ("msb-index", r"\[(WIDTH|N)-1\]", r"[\1-2]"),
    ("bit0->bit1", r"\[0\]", "[1]"),
    ("shift-left->right", r"<<(?!<)", ">>"),
    ("swap-ternary", r"\?\s*([^:;?]+?)\s*:\s*([^;]+?)\s*;", r"? \2 : \1;"),
    ("negate-if", r"\bif \((.+)\)(?=( begin)?\s*$)", r"if (!(\1))"),
    ("delete-assign", r"^(\s*)[A-Za-z_][\w\[\]:]*\s*<=\s*[^;]+;\s*$", r"\1;"),
)

# Declarations carry no behaviour to mutate; loop headers could be mutated into loops that never end.
SKIP_LINE = re.compile(r"^\s*(?:input|output|parameter|module|reg|integer|wire\s*\[[^\]]*\]\s*\w+\s*;|//|for\b)")


@dataclass(frozen=True)
class Mutant:
    module: str
    operator: str
    line: int  # 1-based line of the golden module file
    source: str  # the mutated module file


def candidates(golden: dict[str, str], avoid: dict[str, set[int]]) -> list[Mutant]:
    """Every single-edit mutant of every module, except edits on the `avoid` lines of a module."""
    found: list[Mutant] = []
    for module, source in golden.items():
        lines = source.splitlines(keepends=True)
        clean = hdl.strip_comments(source).splitlines(keepends=True)
        body_start = next((i for i, line in enumerate(clean) if line.strip().startswith(");")), 0) + 1
        for index in range(body_start, len(lines)):
            code = clean[index]
            if index + 1 in avoid.get(module, set()) or SKIP_LINE.match(code) or not code.strip():
                continue
            for name, pattern, replacement in OPERATORS:
                flags = re.MULTILINE if name == "delete-assign" else 0
                for match in re.finditer(pattern, code.rstrip("\n"), flags):
                    mutated_line = code[:match.start()] + match.expand(replacement) + code[match.end():]
                    if mutated_line == code:
                        continue
                    mutated = "".join(lines[:index]) + mutated_line + "".join(lines[index + 1:])
                    found.append(Mutant(module, name, index + 1, mutated))
    return found


def _renamed(sources: dict[str, str], suffix: str) -> dict[str, str]:
    mapping = {m: f"{m}{suffix}" for m in sources}
    return {m: hdl.rename_identifiers(text, mapping) for m, text in sources.items()}


def killed_by_regression(build: library.Build, pool: list[Mutant], seed: int, timeout: float = 120.0) -> list[bool]:
    """For each mutant, whether the regression (model-checked replay) tells it from the golden design.

    All mutants run in one simulation, each as a renamed copy of the design, so the cost is one compile.
    """
    if not pool:
        return []
    design = build.design
    ports = hdl.ports(build.golden[design.top], build.params)
    outputs = [p for p in ports if p.direction == "output"]
    inputs = [p for p in ports if p.direction == "input" and p.name != "clk"]
    model = models.make_model(design.name, build.params)
    stimuli, expected = stimulus.generate(design.name, build.params, model, design.cycles, np.random.default_rng(seed))
    with tempfile.TemporaryDirectory(prefix="ale-hv-mutants-") as tmp:
        folder = Path(tmp)
        files: list[str] = []
        for k, mutant in enumerate(pool):
            sources = dict(build.golden)
            sources[mutant.module] = mutant.source
            for module, text in _renamed(sources, f"__m{k}").items():
                name = f"m{k}_{module}.v"
                (folder / name).write_text(text, "utf-8")
                files.append(name)
        for module, text in _renamed(build.golden, "__ref").items():
            (folder / f"ref_{module}.v").write_text(text, "utf-8")
            files.append(f"ref_{module}.v")
        duts = [f"{design.top}__m{k}" for k in range(len(pool))]
        first_known = next(i for i, want in enumerate(expected) if want is not None)
        tb = simulate.divergence_testbench("mutant_filter", f"{design.top}__ref", duts, build.params, ports,
                                           design.cycles, first_known, "reference.txt", "diverged.txt")
        simulate.write_inputs(folder, tb, "mutant_filter.v", simulate.pack(stimuli, inputs))
        command = ["iverilog", "-g2012", "-o", "filter.vvp", "-s", "mutant_filter", "mutant_filter.v", *files]
        compiled = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=timeout)
        if compiled.returncode != 0:
            raise RuntimeError(f"mutant pool does not compile: {compiled.stderr[-2000:]}")
        subprocess.run(["vvp", "-n", "filter.vvp"], cwd=folder, capture_output=True, timeout=timeout, check=True)
        reference = simulate.compare((folder / "reference.txt").read_text("utf-8"), expected, outputs)
        if not reference.passed:  # the golden design and the model disagree: a bug in the task itself
            raise RuntimeError(f"golden RTL differs from the reference model: {reference.first}")
        bits = (folder / "diverged.txt").read_text("utf-8").strip()
    if len(bits) != len(pool) or set(bits) - {"0", "1"}:
        raise RuntimeError(f"unreadable mutant verdicts {bits[:80]!r}")
    return [bit == "1" for bit in reversed(bits)]


def select(build: library.Build, rng: np.random.Generator, count: int, pool_size: int, seed: int) -> list[Mutant]:
    """Up to `count` non-equivalent mutants, spread over operators, drawn reproducibly from the seed."""
    golden_bug_lines = set(library.changed_lines(build.buggy[build.bug.module], build.golden[build.bug.module]))
    avoid = {build.bug.module: {n + d for n in golden_bug_lines for d in (-1, 0, 1)}}
    pool = [m for m in candidates(build.golden, avoid) if m.source != build.buggy.get(m.module)]
    order = rng.permutation(len(pool))
    # Round-robin over operators so a few prolific operators do not crowd out the rest.
    by_operator: dict[str, list[Mutant]] = {}
    for i in order:
        by_operator.setdefault(pool[int(i)].operator, []).append(pool[int(i)])
    spread: list[Mutant] = []
    while len(spread) < min(pool_size, len(pool)):
        for name in sorted(by_operator):
            if by_operator[name]:
                spread.append(by_operator[name].pop(0))
    spread = spread[:pool_size]
    verdicts = killed_by_regression(build, spread, seed)
    return [m for m, killed in zip(spread, verdicts, strict=True) if killed][:count]
