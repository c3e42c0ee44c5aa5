"""The hidden regression: drive RTL with stored stimulus in Icarus Verilog and compare its trace to a model.

The testbench only replays stimulus and prints every output each cycle; expected values never enter the
simulation folder, so RTL under test has nothing to copy. The comparison happens on the host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

from ale_gym.tasks.base import RunResult

from .hdl import Port

Runner = Callable[..., RunResult]
STIM_FILE = "stim.hex"


def pack(stimuli: list[dict[str, int]], inputs: list[Port]) -> str:
    """One hex word per cycle: the input ports concatenated, first port in the most significant bits."""
    total = sum(p.width for p in inputs)
    digits = (total + 3) // 4
    lines = []
    for values in stimuli:
        word = 0
        for port in inputs:
            word = (word << port.width) | (values[port.name] & ((1 << port.width) - 1))
        lines.append(f"{word:0{digits}x}")
    return "\n".join(lines) + "\n"


def testbench(name: str, duts: list[str], params: dict[str, int], ports: list[Port], cycles: int,
              traces: list[str]) -> str:
    """A replay testbench instantiating each module in `duts` on the same stimulus, one trace file each."""
    inputs = [p for p in ports if p.direction == "input" and p.name != "clk"]
    outputs = [p for p in ports if p.direction == "output"]
    total = sum(p.width for p in inputs)
    overrides = ", ".join(f".{k}({v})" for k, v in params.items())
    lines = ["`timescale 1ns/1ps", f"module {name};", "    reg clk;"]
    lines += [f"    reg [{p.width - 1}:0] {p.name};" for p in inputs]
    for k, dut in enumerate(duts):
        lines += [f"    wire [{p.width - 1}:0] o{k}_{p.name};" for p in outputs]
        connections = ", ".join([".clk(clk)"] + [f".{p.name}({p.name})" for p in inputs]
                                + [f".{p.name}(o{k}_{p.name})" for p in outputs])
        lines.append(f"    {dut} #({overrides}) dut{k} ({connections});")
    lines += [f"    reg [{total - 1}:0] stim [0:{cycles - 1}];", "    integer i;"]
    lines += [f"    integer fd{k};" for k in range(len(duts))]
    lines += ["    initial begin", "        clk = 1'b0;", f'        $readmemh("{STIM_FILE}", stim);']
    lines += [f'        fd{k} = $fopen("{trace}", "w");' for k, trace in enumerate(traces)]
    lines += [f"        for (i = 0; i < {cycles}; i = i + 1) begin",
              f"            {{{', '.join(p.name for p in inputs)}}} = stim[i];",
              "            #4;"]
    fmt = " ".join(["%h"] * len(outputs))
    for k in range(len(duts)):
        args = ", ".join(f"o{k}_{p.name}" for p in outputs)
        lines.append(f'            $fdisplay(fd{k}, "{fmt}", {args});')
    lines += ["            #1 clk = 1'b1;", "            #5 clk = 1'b0;", "        end"]
    lines += [f"        $fclose(fd{k});" for k in range(len(duts))]
    lines += ["        $finish;", "    end", "endmodule", ""]
    return "\n".join(lines)


def divergence_testbench(name: str, reference: str, duts: list[str], params: dict[str, int], ports: list[Port],
                         cycles: int, from_cycle: int, trace: str, verdicts: str) -> str:
    """Replay on a reference and many variants at once; record which variants ever differ from the reference.

    Only the reference prints a trace (to be checked against the model); the variants are compared inside
    the simulation, so a pool of mutants costs one compile and one run without a trace each.
    """
    inputs = [p for p in ports if p.direction == "input" and p.name != "clk"]
    outputs = [p for p in ports if p.direction == "output"]
    total = sum(p.width for p in inputs)
    overrides = ", ".join(f".{k}({v})" for k, v in params.items())
    lines = ["`timescale 1ns/1ps", f"module {name};", "    reg clk;"]
    lines += [f"    reg [{p.width - 1}:0] {p.name};" for p in inputs]
    for tag, module in [("r", reference)] + [(f"m{k}", dut) for k, dut in enumerate(duts)]:
        lines += [f"    wire [{p.width - 1}:0] {tag}_{p.name};" for p in outputs]
        connections = ", ".join([".clk(clk)"] + [f".{p.name}({p.name})" for p in inputs]
                                + [f".{p.name}({tag}_{p.name})" for p in outputs])
        lines.append(f"    {module} #({overrides}) u_{tag} ({connections});")
    lines += [f"    reg [{total - 1}:0] stim [0:{cycles - 1}];", f"    reg [{max(len(duts), 1) - 1}:0] diverged;",
              "    integer i, fd, fv;", "    initial begin", "        clk = 1'b0;", "        diverged = 0;",
              f'        $readmemh("{STIM_FILE}", stim);', f'        fd = $fopen("{trace}", "w");',
              f'        fv = $fopen("{verdicts}", "w");',
              f"        for (i = 0; i < {cycles}; i = i + 1) begin",
              f"            {{{', '.join(p.name for p in inputs)}}} = stim[i];", "            #4;"]
    fmt = " ".join(["%h"] * len(outputs))
    lines.append(f'            $fdisplay(fd, "{fmt}", {", ".join(f"r_{p.name}" for p in outputs)});')
    reference_bits = "{" + ", ".join(f"r_{p.name}" for p in outputs) + "}"
    for k in range(len(duts)):
        variant_bits = "{" + ", ".join(f"m{k}_{p.name}" for p in outputs) + "}"
        lines.append(f"            if (i >= {from_cycle} && {variant_bits} !== {reference_bits}) diverged[{k}] = 1'b1;")
    lines += ["            #1 clk = 1'b1;", "            #5 clk = 1'b0;", "        end",
              '        $fdisplay(fv, "%b", diverged);', "        $fclose(fd);", "        $fclose(fv);",
              "        $finish;", "    end", "endmodule", ""]
    return "\n".join(lines)


@dataclass
class Comparison:
    cycles: int
    mismatches: int
    first: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.mismatches == 0 and self.cycles > 0


def render(expected: list[dict[str, int] | None], outputs: list[Port]) -> list[str | None]:
    """The trace lines a correct design prints ($fdisplay %h: lower case, zero-padded to the port width)."""
    digits = [(p.width + 3) // 4 for p in outputs]
    return [None if want is None else " ".join(f"{want[p.name]:0{n}x}" for p, n in zip(outputs, digits, strict=True))
            for want in expected]


def compare(trace: str, expected: list[dict[str, int] | None], outputs: list[Port],
            rendered: list[str | None] | None = None) -> Comparison:
    """Compare a trace with the model, cycle by cycle; a missing cycle or an X/Z counts as a mismatch."""
    rows = trace.splitlines()
    lines = rendered if rendered is not None else render(expected, outputs)
    result = Comparison(cycles=len(expected), mismatches=0)
    for cycle, want in enumerate(expected):
        if want is None or (cycle < len(rows) and rows[cycle] == lines[cycle]):
            continue
        fields = rows[cycle].split() if cycle < len(rows) else []
        if len(fields) != len(outputs):
            result.mismatches += 1
            if len(result.first) < 5:
                result.first.append(f"cycle {cycle}: no output recorded")
            continue
        for port, text in zip(outputs, fields, strict=True):
            got = int(text, 16) if re.fullmatch(r"[0-9a-fA-F]+", text) else None
            if got != want[port.name]:
                result.mismatches += 1
                if len(result.first) < 5:
                    shown = text if got is None else str(got)
                    result.first.append(f"cycle {cycle}: {port.name} = {shown}, expected {want[port.name]}")
    return result


def compile_and_run(folder: Path, runner: Runner, tb_file: str, tb_name: str, sources: list[str],
                    timeout: float) -> RunResult:
    """Compile the testbench with the sources in `folder` and run it there (all paths relative)."""
    quoted = " ".join(f"'{s}'" for s in sources)
    script = (f"iverilog -g2012 -o regression.vvp -s {tb_name} {tb_file} {quoted} && vvp -n regression.vvp")
    return runner(["bash", "-c", script], cwd=folder, timeout=timeout, env={})


def write_inputs(folder: Path, tb_text: str, tb_file: str, stim_text: str) -> None:
    (folder / tb_file).write_text(tb_text, "utf-8")
    (folder / STIM_FILE).write_text(stim_text, "utf-8")
