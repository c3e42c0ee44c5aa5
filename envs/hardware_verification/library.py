"""The design and bug library: which blocks exist, their parameters per tier, and the bugs that fit them.

Golden RTL and the bug table live under the task data's `hidden/` folder (never mounted in the jail);
specifications under `specs/`. An instance is a design, its parameters and one bug, all drawn from the seed.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import hdl


@dataclass(frozen=True)
class Design:
    name: str
    top: str
    modules: tuple[str, ...]  # one file rtl/<module>.v each, submodules first
    choices: dict[str, dict[str, tuple[int, ...]]]  # tier -> parameter -> values
    cycles: int  # length of the hidden regression
    summary: str


DESIGNS: dict[str, Design] = {d.name: d for d in (
    Design("alu", "alu", ("alu",), {"near-term": {"WIDTH": (8, 12, 16)}}, 3000,
           "a registered ALU with zero/carry/negative/overflow flags"),
    Design("fifo", "sync_fifo", ("sync_fifo",),
           {"near-term": {"WIDTH": (8,), "DEPTH": (4, 8)},
            "full-spectrum": {"WIDTH": (8, 12, 16), "DEPTH": (4, 5, 6, 8, 12, 16)}}, 4000,
           "a synchronous FIFO"),
    Design("arbiter", "rr_arbiter", ("rr_arbiter",),
           {"near-term": {"N": (3, 4)}, "full-spectrum": {"N": (3, 4, 5, 6, 8)}}, 3000,
           "a round-robin arbiter"),
    Design("uart", "uart_tx", ("uart_tx",),
           {"near-term": {"CLKS_PER_BIT": (4, 8), "STOP_BITS": (1,)},
            "full-spectrum": {"CLKS_PER_BIT": (3, 4, 5, 6, 8, 10), "STOP_BITS": (1, 2)}}, 8000,
           "a UART transmitter"),
    Design("uart_fifo", "uart_fifo_tx", ("sync_fifo", "uart_tx", "uart_fifo_tx"),
           {"last-exam": {"DEPTH": (4, 6, 8), "CLKS_PER_BIT": (3, 4, 5, 6), "STOP_BITS": (1, 2)}}, 16000,
           "a buffered serial transmitter (a UART transmitter fed by a FIFO)"),
)}


@dataclass(frozen=True)
class Bug:
    id: str
    design: str
    module: str
    tiers: tuple[str, ...]
    find: str
    replace: str
    signals: tuple[str, ...]
    report: str
    when: str = ""

    def applies(self, params: dict[str, int]) -> bool:
        if not self.when:
            return True
        name, value = (part.strip() for part in self.when.split("=="))
        return params.get(name) == int(value)


@dataclass
class Build:
    """One generated block: per-module golden and buggy sources, and where the bug sits."""

    design: Design
    params: dict[str, int]
    bug: Bug
    golden: dict[str, str]  # module -> source text
    buggy: dict[str, str]
    bug_lines: list[int] = field(default_factory=list)  # 1-based lines of the buggy module's file


def load_bugs(data_dir: Path) -> list[Bug]:
    raw = tomllib.loads((data_dir / "hidden" / "bugs.toml").read_text("utf-8"))
    return [Bug(id=b["id"], design=b["design"], module=b["module"], tiers=tuple(b["tiers"]), find=b["find"],
                replace=b["replace"], signals=tuple(b["signals"]), report=b["report"], when=b.get("when", ""))
            for b in raw["bug"]]


def golden_source(data_dir: Path, module: str) -> str:
    return (data_dir / "hidden" / "rtl" / f"{module}.v").read_text("utf-8")


def module_parameters(design: Design, params: dict[str, int]) -> dict[str, dict[str, int]]:
    """The parameter defaults each module file gets in this build."""
    if design.name != "uart_fifo":
        return {design.top: dict(params)}
    return {"sync_fifo": {"WIDTH": 8, "DEPTH": params["DEPTH"]},
            "uart_tx": {"CLKS_PER_BIT": params["CLKS_PER_BIT"], "STOP_BITS": params["STOP_BITS"]},
            "uart_fifo_tx": dict(params)}


def changed_lines(before: str, after: str) -> list[int]:
    """1-based lines of `after` that differ from `before` (for a deletion: the line now at its place)."""
    lines: list[int] = []
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            lines.extend(range(j1 + 1, j2 + 1) if j2 > j1 else [j1 + 1])
    return lines


def apply_bug(source: str, bug: Bug) -> str:
    if source.count(bug.find) != 1:
        raise ValueError(f"bug {bug.design}/{bug.id}: its pattern occurs {source.count(bug.find)} times")
    return source.replace(bug.find, bug.replace)


def choose(tier: str, rng: np.random.Generator, bugs: list[Bug]) -> tuple[Design, dict[str, int], Bug]:
    """Draw a design, its parameters and an applicable bug for a tier."""
    designs = [d for d in DESIGNS.values() if tier in d.choices and any(tier in b.tiers and b.design == d.name for b in bugs)]
    design = designs[int(rng.integers(len(designs)))]
    while True:
        params = {name: int(values[int(rng.integers(len(values)))]) for name, values in design.choices[tier].items()}
        candidates = [b for b in bugs if b.design == design.name and tier in b.tiers and b.applies(params)]
        if candidates:
            return design, params, candidates[int(rng.integers(len(candidates)))]


def build(data_dir: Path, design: Design, params: dict[str, int], bug: Bug) -> Build:
    per_module = module_parameters(design, params)
    golden = {m: hdl.set_parameter_defaults(golden_source(data_dir, m), per_module.get(m, {})) for m in design.modules}
    buggy = dict(golden)
    buggy[bug.module] = apply_bug(golden[bug.module], bug)
    return Build(design, params, bug, golden, buggy, changed_lines(golden[bug.module], buggy[bug.module]))


def placeholders(design: Design, params: dict[str, int]) -> dict[str, str]:
    """Values the spec and report templates refer to, derived from the parameters."""
    values = {k: str(v) for k, v in params.items()}
    if "DEPTH" in params:
        values["CW"] = str(hdl.clog2(params["DEPTH"] + 1))
        values["DEPTH_M1"] = str(params["DEPTH"] - 1)
    if "N" in params:
        values["N_M1"] = str(params["N"] - 1)
    if "CLKS_PER_BIT" in params:
        cpb = params["CLKS_PER_BIT"]
        values.update(CPB=str(cpb), CPB_P1=str(cpb + 1), FRAME_CYCLES=str((9 + params["STOP_BITS"]) * cpb))
    if design.name == "alu":
        w = params["WIDTH"]
        digits = (w + 3) // 4
        msb = 1 << (w - 1)
        values.update(MSB_HEX=f"{msb:0{digits}X}", MSB2_HEX=f"{msb | msb >> 1:0{digits}X}",
                      HALF_HEX=f"{msb >> 1:0{digits}X}", ALL_HEX=f"{(1 << w) - 1:0{digits}X}",
                      MAX_POS=str(msb - 1))
    return values


def render(template: str, values: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return re.sub(r"\{\{([A-Z_0-9]+)\}\}", substitute, template)


def spec_text(data_dir: Path, design: Design, params: dict[str, int]) -> str:
    """The specification handed to the engineer; the composite also carries its sub-blocks' specs."""
    values = placeholders(design, params)
    text = render((data_dir / "specs" / f"{design.name}.md").read_text("utf-8"), values)
    if design.name == "uart_fifo":
        for sub, sub_params in (("fifo", {"WIDTH": 8, "DEPTH": params["DEPTH"]}),
                                ("uart", {"CLKS_PER_BIT": params["CLKS_PER_BIT"], "STOP_BITS": params["STOP_BITS"]})):
            sub_text = render((data_dir / "specs" / f"{sub}.md").read_text("utf-8"), placeholders(DESIGNS[sub], sub_params))
            sub_text = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", sub_text, flags=re.MULTILINE)
            text += "\n" + sub_text
    return text


def report_text(bug: Bug, design: Design, params: dict[str, int]) -> str:
    return render(bug.report, placeholders(design, params)).strip() + "\n"
