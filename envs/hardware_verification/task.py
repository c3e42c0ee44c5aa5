"""ALE/Hardware-Verification-v0: find and fix the bug in an RTL block with a testbench that really verifies it."""

from __future__ import annotations

import re
import shutil
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ale_gym import actions as A
from ale_gym.actions import Action
from ale_gym.envs.hardware_verification import hdl, judging, library, models, simulate, skeleton, stimulus, variants
from ale_gym.tasks.base import CheckContext, Cheat, DeliverableError, GenContext, Instance, RunResult, Task, Verdict
from ale_gym.tasks.card import TaskCard
from ale_gym.tasks.milestones import workspace_fingerprint

RTL_DIR = "dut_rtl"
TB_TIMEOUT = 120.0
MUTANT_TIMEOUT_FLOOR = 20.0
CHECK_TIMEOUT = 120.0
LINT_FLAGS = ("--lint-only", "-Wall", "-Wno-DECLFILENAME")
MUTATION_THRESHOLD = {"near-term": 0.8, "full-spectrum": 0.8, "last-exam": 0.9}
SOLUTION = Path(__file__).resolve().parent / "solution"
RUN_CACHE_SIZE = 64


class HardwareVerification(Task):
    """Find and fix the bug in an RTL block, with a testbench that really verifies it.

    Description:
        A verification engineer (SOC 17-2061, Computer Hardware Engineers) receives a synthesisable Verilog
        block, its specification and a field report of a failure. They write a testbench that checks the
        block against the specification, localise the bug and fix the RTL. Designs come from a library the
        task owns, each with a golden implementation and a cycle-accurate Python reference model: a registered
        ALU with flags, a synchronous FIFO, a round-robin arbiter, a UART transmitter, and a UART transmitter
        fed by a FIFO. Each instance injects one bug drawn from a library of realistic bug classes (full/empty
        off by one, pointer wrap, missed reset, priority that does not rotate, wrong stop-bit length, overflow
        flag wrong on subtraction, a write lost when full, ...). Seeds vary the design, its parameters and the bug.

    Inputs (workspace):
        `spec.md` (parameters, interface, behaviour, reset, timing), `rtl/*.v` (one file per module, one bug),
        `report.txt` (the symptom as a user saw it); near-term also `verify/tb_skeleton.v`.

    Deliverables:
        `verify/run.sh` (run as `bash verify/run.sh` from the workspace root with `RTL_DIR` naming a folder of
        RTL files; exit 0 = the design meets the spec), `bug_report.json` (`module`, `signal`, `line`,
        `explanation`), `rtl_fixed/` (a complete corrected copy of `rtl/`).

    Milestones:
        tb_runs (0.10): run.sh on the given RTL ends within 120 s with an exit status 0-125.
        tb_detects_bug (0.20, after tb_runs): it fails on the given RTL and passes on the golden RTL.
        tb_no_false_alarm (0.15, after tb_runs): it passes on the golden RTL.
        tb_mutation_score (0.15, after tb_no_false_alarm, at submit): it fails on >= 80% (last-exam 90%) of 12
            hidden mutants of the golden RTL (one edit each from the task's own operators, never on the bug's
            lines, and each one told apart from the golden design by the hidden regression); a fail, a crash
            or a timeout (5x the golden run, at least 20 s) kills a mutant.
        bug_localized (0.15, after tb_detects_bug): the report names the buggy module and either the faulty
            signal or a line within 3 of the bug; a report naming several signals or lines fails.
        rtl_fixed (0.25, after tb_detects_bug): rtl_fixed/ defines the same modules, changes only the buggy one
            (token comparison), uses no system tasks (other than $clog2/$signed/$unsigned), initial blocks,
            delays, force/release, hierarchical references or `include, lints clean with
            `verilator --lint-only -Wall -Wno-DECLFILENAME` (every remaining warning counts), and matches the
            reference model on every cycle of a hidden randomised regression (3 000 to 16 000 cycles with reset
            pulses and phase-structured traffic aimed at the design's corners).
        The golden RTL and mutants are shown to the testbench disguised (comments removed, formatting flattened,
        internal names replaced), so only black-box testbenches that drive and observe ports are judged fairly.

    Tiers:
        near-term: ALU, FIFO, arbiter or UART with a bug whose symptom is obvious; a testbench skeleton.
        full-spectrum: FIFO (any depth, not only powers of two), arbiter or UART, any of their bug classes.
        last-exam: a UART transmitter fed by a FIFO (three modules) with a bug that shows only in a corner case
            (a write while full coinciding with a pop, back-to-back frames, a one-cycle reset pulse at a pop);
            90% mutation score.

    Oracle:
        Writes a self-checking Verilog testbench (an independent cycle-accurate model of the spec, randomised
        phase-structured traffic, reset pulses), runs it on rtl/, reads the mismatch, tries the repairs of the
        bug classes it knows until its testbench passes, and writes the report and rtl_fixed/ from that edit.

    Cheats:
        A testbench that always fails (tb_no_false_alarm); one that always passes (tb_detects_bug); one that
        fails only when the RTL file equals the given file (tb_mutation_score); one that diffs the RTL against
        its own fix (tb_no_false_alarm); a "fix" that replays the outputs recorded on the agent's own stimulus
        (rtl_fixed, by the hidden regression); a report listing every signal and line (bug_localized); an empty
        rtl_fixed/ and an unchanged copy of rtl/ (rtl_fixed).
    """

    tb_timeout: float = TB_TIMEOUT  # per run of the agent's testbench

    def __init__(self, card: TaskCard, data_dir: Path) -> None:
        super().__init__(card, data_dir)
        self._runs: OrderedDict[tuple[str, ...], RunResult] = OrderedDict()

    # ------------------------------------------------------------------------------------------ generate
    def generate(self, ctx: GenContext, rng: np.random.Generator) -> Instance:
        bugs = library.load_bugs(ctx.data_dir)
        design, params, bug = library.choose(ctx.tier, rng, bugs)
        build = library.build(ctx.data_dir, design, params, bug)
        regression_seed, mutant_seed, disguise_seed = (int(s) for s in rng.integers(1, 2**31 - 1, size=3))

        workspace = ctx.workspace
        (workspace / "rtl").mkdir(parents=True, exist_ok=True)
        for module in design.modules:
            (workspace / "rtl" / f"{module}.v").write_text(build.buggy[module], "utf-8")
        (workspace / "spec.md").write_text(library.spec_text(ctx.data_dir, design, params), "utf-8")
        (workspace / "report.txt").write_text(library.report_text(bug, design, params), "utf-8")
        if ctx.tier == "near-term":
            (workspace / "verify").mkdir(exist_ok=True)
            top_ports = hdl.ports(build.golden[design.top], params)
            (workspace / "verify" / "tb_skeleton.v").write_text(skeleton.testbench(design.top, params, top_ports), "utf-8")

        state = {"design": design.name, "top": design.top, "modules": list(design.modules), "params": params,
                 "bug": bug.id, "bug_module": bug.module, "bug_lines": build.bug_lines, "bug_signals": list(bug.signals),
                 "regression_seed": regression_seed, "mutant_seed": mutant_seed, "disguise_seed": disguise_seed,
                 "mutation_threshold": MUTATION_THRESHOLD[ctx.tier]}
        for folder, files in (("given", {f"{m}.v": build.buggy[m] for m in design.modules}),
                              ("golden", variants.golden_files(ctx.data_dir, state))):
            (ctx.hidden / folder).mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                (ctx.hidden / folder / name).write_text(text, "utf-8")
        return Instance(instruction=_instruction(design, params, ctx.tier), state=state)

    # ------------------------------------------------------------------------------------------ testbench runs
    def _run_testbench(self, ctx: CheckContext, variant: str, files: dict[str, str], timeout: float) -> RunResult:
        """Run the agent's verify/run.sh in the jail on a scratch copy with RTL_DIR holding `files`."""
        if not ctx.path("verify/run.sh").is_file():
            raise DeliverableError("verify/run.sh is not a regular file")
        # Keyed like the milestones' `reads`: the testbench is what lives under verify/.
        key = (str(ctx.hidden.resolve()), variant, workspace_fingerprint(ctx.workspace, ("verify/*",)))
        if key in self._runs:
            self._runs.move_to_end(key)
            return self._runs[key]
        with ctx.scratch() as folder:
            target = folder / RTL_DIR
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            target.mkdir()
            for name, text in files.items():
                (target / name).write_text(text, "utf-8")
            result = ctx.run(["bash", "verify/run.sh"], cwd=folder, timeout=timeout, env={"RTL_DIR": RTL_DIR})
        self._runs[key] = result
        while len(self._runs) > RUN_CACHE_SIZE:
            self._runs.popitem(last=False)
        return result

    def _given(self, ctx: CheckContext) -> RunResult:
        return self._run_testbench(ctx, "given", _folder_files(ctx.hidden / "given"), self.tb_timeout)

    def _golden(self, ctx: CheckContext) -> RunResult:
        return self._run_testbench(ctx, "golden", _folder_files(ctx.hidden / "golden"), self.tb_timeout)

    # ------------------------------------------------------------------------------------------ checkers
    def check_tb_runs(self, ctx: CheckContext) -> Verdict:
        result = self._given(ctx)
        outcome = _outcome(result)
        return Verdict(outcome in ("pass", "fail"), f"on the given RTL: {_describe(result)}",
                       {"exit": result.returncode, "seconds": round(result.seconds, 2)})

    def check_tb_detects_bug(self, ctx: CheckContext) -> Verdict:
        given, golden = self._given(ctx), self._golden(ctx)
        passed = _outcome(given) == "fail" and _outcome(golden) == "pass"
        return Verdict(passed, f"given RTL: {_describe(given)}; golden RTL: {_describe(golden)}")

    def check_tb_no_false_alarm(self, ctx: CheckContext) -> Verdict:
        golden = self._golden(ctx)
        return Verdict(_outcome(golden) == "pass", f"golden RTL: {_describe(golden)}")

    def check_tb_mutation_score(self, ctx: CheckContext) -> Verdict:
        state = ctx.instance.state
        golden = self._golden(ctx)
        if _outcome(golden) != "pass":
            return Verdict(False, f"the testbench does not pass the golden RTL ({_describe(golden)}), "
                                  "so failing on mutants shows nothing")
        mutant_sets = variants.mutant_files(ctx.data_dir, ctx.hidden, state)
        total = len(mutant_sets)
        threshold = float(state["mutation_threshold"])
        needed = int(np.ceil(threshold * total))
        timeout = min(self.tb_timeout, max(MUTANT_TIMEOUT_FLOOR, 5.0 * golden.seconds))
        killed, survived, survivors = 0, 0, []
        order = np.random.default_rng(state["mutant_seed"]).permutation(total)
        for index in order:
            mutant = mutant_sets[int(index)]
            result = self._run_testbench(ctx, f"mutant{int(index)}", mutant["files"], timeout)
            if _outcome(result) == "pass":
                survived += 1
                survivors.append(mutant["label"])
            else:
                killed += 1
            if killed >= needed or survived > total - needed:
                break
        run = killed + survived
        passed = killed >= needed
        detail = (f"killed {killed} of {run} mutants run (of {total}; {needed} needed for {threshold:.0%})"
                  + (f"; survivors: {', '.join(survivors[:4])}" if survivors else ""))
        return Verdict(passed, detail, {"killed": killed, "run": run, "total": total, "needed": needed})

    def check_bug_localized(self, ctx: CheckContext) -> Verdict:
        state = ctx.instance.state
        text = ctx.read_text("bug_report.json", max_bytes=1 << 20)
        verdict = judging.judge_report(text, state["bug_module"], list(state["bug_lines"]), tuple(state["bug_signals"]))
        return Verdict(verdict.passed, verdict.detail, dict(verdict.metrics))

    def check_rtl_fixed(self, ctx: CheckContext) -> Verdict:
        state = ctx.instance.state
        if not ctx.path("rtl_fixed").is_dir():
            raise DeliverableError("rtl_fixed is not a folder")
        names = sorted(p.name for p in ctx.path("rtl_fixed").iterdir() if p.suffix in (".v", ".sv"))
        if not names:
            raise DeliverableError("rtl_fixed/ holds no .v files")
        texts = {}
        for name in names:
            if not re.fullmatch(r"[\w.-]+", name):
                raise DeliverableError(f"rtl_fixed/{name}: unusable file name")
            texts[name] = ctx.read_text(f"rtl_fixed/{name}", max_bytes=2 << 20)
        given = {}
        for text in _folder_files(ctx.hidden / "given").values():
            given.update(hdl.modules(text))
        fixed: dict[str, str] = {}
        for text in texts.values():
            fixed.update(hdl.modules(text))

        problems = []
        missing, extra = sorted(set(given) - set(fixed)), sorted(set(fixed) - set(given))
        if missing:
            problems.append(f"modules missing: {missing}")
        if extra:
            problems.append(f"modules not in rtl/: {extra}")
        changed = judging.other_modules_changed(given, fixed, state["bug_module"])
        changed = [m for m in changed if m not in missing]
        if changed:
            problems.append(f"changes modules without the bug: {changed}")
        violations = [v for text in texts.values() for v in judging.rule_violations(text)]
        if violations:
            problems.append("not synthesisable RTL: " + ", ".join(sorted(set(violations))))
        metrics: dict[str, object] = {}
        if not missing and not violations:
            lint_ok, lint_note, comparison = self._lint_and_regress(ctx, texts)
            metrics = {"lint_clean": lint_ok, "regression_mismatches": comparison.mismatches if comparison else None,
                       "regression_cycles": comparison.cycles if comparison else None}
            if not lint_ok:
                problems.append(f"verilator lint: {lint_note}")
            if comparison is None:
                problems.append("regression: the design does not compile or run with the regression testbench")
            elif not comparison.passed:
                problems.append(f"regression: {comparison.mismatches} mismatching outputs in {comparison.cycles} cycles "
                                f"(first: {'; '.join(comparison.first[:3])})")
        if problems:
            return Verdict(False, "; ".join(problems), metrics)
        return Verdict(True, f"only {state['bug_module']} changed; lint clean; regression matched the model on "
                             f"all {metrics['regression_cycles']} cycles", metrics)

    def _lint_and_regress(self, ctx: CheckContext, texts: dict[str, str]) -> tuple[bool, str, simulate.Comparison | None]:
        """Lint the fixed RTL with verilator and replay the hidden regression on it, both in the jail."""
        state = ctx.instance.state
        params = {k: int(v) for k, v in state["params"].items()}
        build = variants.rebuild(ctx.data_dir, state)
        ports = hdl.ports(build.golden[state["top"]], params)
        inputs = [p for p in ports if p.direction == "input" and p.name != "clk"]
        outputs = [p for p in ports if p.direction == "output"]
        cycles = build.design.cycles
        model = models.make_model(state["design"], params)
        stimuli, expected = stimulus.generate(state["design"], params, model, cycles,
                                              np.random.default_rng(state["regression_seed"]))
        tb_name = f"regression_{state['regression_seed'] % 1000003}"
        with ctx.scratch(copy_workspace=False) as folder:
            (folder / "rtl").mkdir()
            for name, text in texts.items():
                (folder / "rtl" / name).write_text(text, "utf-8")
            sources = [f"rtl/{name}" for name in texts]
            lint = ctx.run(["verilator", *LINT_FLAGS, "--top-module", state["top"], *sources], cwd=folder,
                           timeout=CHECK_TIMEOUT, env={})
            lint_ok = lint.returncode == 0
            warnings = [line for line in (lint.stderr + lint.stdout).splitlines() if line.startswith("%")]
            lint_note = "clean" if lint_ok else (warnings[0][:300] if warnings else _describe(lint))
            tb = simulate.testbench(tb_name, [state["top"]], params, ports, cycles, ["trace0.txt"])
            simulate.write_inputs(folder, tb, f"{tb_name}.v", simulate.pack(stimuli, inputs))
            run = simulate.compile_and_run(folder, ctx.run, f"{tb_name}.v", tb_name, sources, CHECK_TIMEOUT)
            trace = folder / "trace0.txt"
            if run.returncode != 0 or not trace.is_file():
                return lint_ok, lint_note, None
            comparison = simulate.compare(trace.read_text("utf-8", "replace"), expected, outputs)
        return lint_ok, lint_note, comparison

    # ------------------------------------------------------------------------------------------ oracle, cheats
    def oracle(self, instance: Instance, tier: str) -> list[Action]:
        return [A.python(self._oracle_code(), timeout=900), A.submit()]

    def _oracle_code(self) -> str:
        testbenches = {path.stem.removeprefix("tb_"): path.read_text("utf-8") for path in sorted(SOLUTION.glob("tb_*.v"))}
        repairs: list[tuple[str, str]] = []
        for bug in library.load_bugs(self.data_dir):
            if (bug.replace, bug.find) not in repairs:
                repairs.append((bug.replace, bug.find))
        return (f"TESTBENCHES = {testbenches!r}\nREPAIRS = {repairs!r}\n"
                + (SOLUTION / "oracle.py").read_text("utf-8"))

    def cheats(self, instance: Instance, tier: str) -> list[Cheat]:
        work = self.oracle(instance, tier)[:-1]
        runner = lambda body: A.shell(f"printf '%s\\n' '#!/usr/bin/env bash' {body} > verify/run.sh")  # noqa: E731
        every_signal = (
            "import json, re\nfrom pathlib import Path\n"
            "report = json.loads(Path('bug_report.json').read_text())\n"
            "text = Path('rtl', report['module'] + '.v').read_text()\n"
            "names = sorted(set(re.findall(r'\\b[A-Za-z_]\\w*\\b', text)))\n"
            "report['signal'] = ', '.join(names)\n"
            "report['line'] = list(range(1, text.count(chr(10)) + 2))\n"
            "Path('bug_report.json').write_text(json.dumps(report))\n")
        return [
            Cheat("tb_always_fails", "tb_no_false_alarm", work + [runner("'exit 1'"), A.submit()],
                  "run.sh reports a failure whatever the RTL"),
            Cheat("tb_always_passes", "tb_detects_bug", work + [runner("'exit 0'"), A.submit()],
                  "run.sh reports a pass whatever the RTL"),
            Cheat("tb_fails_on_given_file", "tb_mutation_score",
                  work + [runner("'for f in rtl/*.v; do cmp -s \"$f\" \"$RTL_DIR/$(basename \"$f\")\" || exit 0; done' 'exit 1'"),
                          A.submit()],
                  "run.sh fails exactly when the RTL files are byte-identical to the given ones"),
            Cheat("tb_diffs_own_fix", "tb_no_false_alarm",
                  work + [runner("'diff -r -q \"$RTL_DIR\" rtl_fixed >/dev/null'"), A.submit()],
                  "run.sh passes exactly when the RTL is textually the agent's own fix"),
            Cheat("fix_replays_own_stimulus", "rtl_fixed",
                  work + [A.python((SOLUTION / "replay_fix.py").read_text("utf-8"), timeout=600), A.submit()],
                  "rtl_fixed's top plays back the outputs recorded on the agent's own testbench stimulus"),
            Cheat("report_every_signal", "bug_localized", work + [A.python(every_signal), A.submit()],
                  "bug_report.json lists every identifier and every line of the module"),
            Cheat("empty_rtl_fixed", "rtl_fixed", work + [A.shell("rm -rf rtl_fixed && mkdir rtl_fixed"), A.submit()],
                  "rtl_fixed/ is empty"),
            Cheat("unchanged_rtl_fixed", "rtl_fixed", work + [A.shell("rm -rf rtl_fixed && cp -r rtl rtl_fixed"), A.submit()],
                  "rtl_fixed/ is a copy of the buggy rtl/"),
        ]


def _folder_files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text("utf-8") for p in sorted(folder.glob("*.v"))}


def _outcome(result: RunResult) -> str:
    """pass (exit 0), fail (exit 1-125) or none (timed out, killed, not executable, not found)."""
    if result.timed_out or result.returncode is None or result.returncode < 0 or result.returncode > 125:
        return "none"
    return "pass" if result.returncode == 0 else "fail"


def _describe(result: RunResult) -> str:
    if result.timed_out:
        return f"timed out after {result.seconds:.0f} s"
    lines = [line.strip() for line in (result.stdout + "\n" + result.stderr).splitlines()
             if line.strip() and not re.match(r"\s*Time:", line)]
    note = f" ({lines[-1][:160]})" if lines else ""
    return f"exit {result.returncode} after {result.seconds:.1f} s{note}"


def _instruction(design: library.Design, params: dict[str, int], tier: str) -> str:
    files = ", ".join(f"rtl/{m}.v" for m in design.modules)
    setting = ", ".join(f"{k} = {v}" for k, v in params.items())
    skeleton_note = ("\nA testbench skeleton that instantiates the block, drives the clock and reset and fails with "
                     "$fatal is in verify/tb_skeleton.v; complete it (or write your own).\n" if tier == "near-term" else "")
    return f"""You are the verification engineer for {design.summary}: top module `{design.top}` ({setting}).
The RTL ({files}) has a bug that a user ran into; their report is report.txt. The specification is spec.md.
Write a testbench that checks the block against spec.md, use it to find the bug, and fix the RTL.
{skeleton_note}
Deliverables (paths relative to the workspace root, your working directory):

1. verify/run.sh — runs your testbench. It is invoked as `bash verify/run.sh` from the workspace root, with
   the environment variable RTL_DIR set to a folder (a path relative to the workspace root) that holds the
   RTL files to test under the same names as in rtl/. It must simulate your testbench against the RTL in
   $RTL_DIR and exit 0 if that RTL meets spec.md, or with a status from 1 to 125 if it does not, within
   120 seconds. It is run on the given RTL, on a correct implementation and on variants with small
   defects. Those implementations differ from rtl/ in internal signal names, comments and formatting, so
   drive and observe the block only through its ports and parameters. Keep your testbench files under
   verify/ (the checker runs a copy of the workspace).
2. bug_report.json — a JSON object {{"module": "<the module with the bug>", "signal": "<the one signal the
   faulty code drives>", "line": <the line number of the faulty code in rtl/<module>.v>, "explanation":
   "<one paragraph: the symptom, the cause and the fix>"}}. Name exactly one signal and one line.
3. rtl_fixed/ — a complete copy of rtl/ (the same files and modules) with the bug fixed. Change only the
   module that contains the bug and keep its ports and parameters. It must stay synthesisable (no system
   tasks other than $clog2, $signed and $unsigned; no initial blocks, delays, force/release, hierarchical
   references or `include), pass `verilator {' '.join(LINT_FLAGS)} --top-module {design.top}` with no
   warnings, and match the specification on every cycle of a long randomised regression.

Tools: Icarus Verilog (iverilog, vvp), Verilator, Yosys, cocotb (Python), and GTKWave when a desktop is
available. bash and python3 are on the PATH.
"""
