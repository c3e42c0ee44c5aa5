"""ALE/Hardware-Verification-v0: the design library, the hidden regression, the judges and the task end to end.

The golden RTL is checked against the Python reference models with the real simulator, every library bug
against the regression, the golden RTL against verilator's lint; the task is checked through the
environment (oracle full pass on every tier, doing nothing scores zero) and directly through its checkers
(every cheat caught by the milestone it names, garbage deliverables fail without checker errors).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from ale_gym import actions as A
from ale_gym.envs.hardware_verification import hdl, judging, library, models, mutants, simulate, stimulus, variants
from ale_gym.runtime.jail import NoJail
from ale_gym.tasks.base import CheckContext, GenContext, Instance
from ale_gym.tasks.milestones import MilestoneBook
from ale_gym.tasks.registry import get_entry, load_task

TASK_ID = "ALE/Hardware-Verification-v0"
TIERS = ("near-term", "full-spectrum", "last-exam")


@pytest.fixture(scope="module")
def entry():
    return get_entry(TASK_ID)


@pytest.fixture(scope="module")
def task(entry):
    return load_task(entry)


@pytest.fixture(scope="module")
def bugs(entry):
    return library.load_bugs(entry.data_dir)


def all_parameter_sets(design: library.Design) -> list[dict[str, int]]:
    seen, result = set(), []
    for choices in design.choices.values():
        for values in itertools.product(*choices.values()):
            params = dict(zip(choices, values, strict=True))
            if tuple(params.items()) not in seen:
                seen.add(tuple(params.items()))
                result.append(params)
    return result


def regress(build: library.Build, sources: dict[str, str], folder: Path, seed: int = 11) -> simulate.Comparison | None:
    """Replay the hidden regression on `sources` (module -> text) with the real simulator."""
    design = build.design
    ports = hdl.ports(build.golden[design.top], build.params)
    model = models.make_model(design.name, build.params)
    stimuli, expected = stimulus.generate(design.name, build.params, model, design.cycles, np.random.default_rng(seed))
    inputs = [p for p in ports if p.direction == "input" and p.name != "clk"]
    folder.mkdir(parents=True, exist_ok=True)
    for module, text in sources.items():
        (folder / f"{module}.v").write_text(text)
    tb = simulate.testbench("tb_regress", [design.top], build.params, ports, design.cycles, ["trace0.txt"])
    simulate.write_inputs(folder, tb, "tb_regress.v", simulate.pack(stimuli, inputs))
    run = simulate.compile_and_run(folder, NoJail(folder).run, "tb_regress.v", "tb_regress",
                                   [f"{m}.v" for m in sources], 120)
    if run.returncode != 0:
        return None
    return simulate.compare((folder / "trace0.txt").read_text(), expected, [p for p in ports if p.direction == "output"])


# -- the library ------------------------------------------------------------------------------------------------

def test_every_bug_is_unique_observable_and_golden_matches_the_model(bugs, entry, tmp_path: Path) -> None:
    """Golden RTL agrees with the Python model cycle for cycle; each bug edit is unique and the regression sees it."""
    assert {b.design for b in bugs} == set(library.DESIGNS)
    for tier in TIERS:
        assert any(tier in b.tiers for b in bugs)
    for index, bug in enumerate(bugs):
        design = library.DESIGNS[bug.design]
        params = next(p for p in all_parameter_sets(design) if bug.applies(p))
        build = library.build(entry.data_dir, design, params, bug)
        assert build.bug_lines, bug.id
        golden = regress(build, build.golden, tmp_path / f"g{index}", seed=index)
        buggy = regress(build, build.buggy, tmp_path / f"b{index}", seed=index)
        assert golden is not None and golden.passed, (bug.design, bug.id, golden and golden.first)
        assert buggy is not None and not buggy.passed, (bug.design, bug.id)


def test_golden_rtl_lints_clean_for_every_parameter_set(entry, tmp_path: Path) -> None:
    for design in library.DESIGNS.values():
        for params in all_parameter_sets(design):
            per_module = library.module_parameters(design, params)
            files = []
            for module in design.modules:
                path = tmp_path / f"{design.name}_{module}.v"
                path.write_text(hdl.set_parameter_defaults(library.golden_source(entry.data_dir, module), per_module[module]))
                files.append(str(path))
            lint = subprocess.run(["verilator", "--lint-only", "-Wall", "-Wno-DECLFILENAME", "--top-module", design.top,
                                   *files], capture_output=True, text=True)
            assert lint.returncode == 0, (design.name, params, lint.stderr[-800:])


def test_disguised_golden_still_matches_the_model_and_hides_its_names(bugs, entry, tmp_path: Path) -> None:
    for design_name in ("fifo", "uart_fifo"):
        bug = next(b for b in bugs if b.design == design_name)
        design = library.DESIGNS[design_name]
        params = all_parameter_sets(design)[0]
        state = {"design": design_name, "params": params, "bug": bug.id, "disguise_seed": 9}
        files = variants.golden_files(entry.data_dir, state)
        build = library.build(entry.data_dir, design, params, bug)
        comparison = regress(build, {name.removesuffix(".v"): text for name, text in files.items()}, tmp_path / design_name)
        assert comparison is not None and comparison.passed
        for module, text in build.golden.items():
            internals = hdl.internal_names(hdl.modules(text)[module])
            assert internals and not any(hdl.tokens(files[f"{module}.v"]).count(name) for name in internals)
            assert "//" not in files[f"{module}.v"]


def test_mutants_differ_from_golden_and_bug_and_are_all_killed_by_the_regression(bugs, entry) -> None:
    bug = next(b for b in bugs if b.design == "arbiter" and b.id == "search_from_self")
    design = library.DESIGNS["arbiter"]
    build = library.build(entry.data_dir, design, {"N": 5}, bug)
    chosen = mutants.select(build, np.random.default_rng(3), 12, 18, seed=3)
    assert len(chosen) == 12
    assert len({m.source for m in chosen}) == 12
    assert all(m.source not in (build.golden["rr_arbiter"], build.buggy["rr_arbiter"]) for m in chosen)
    assert all(abs(m.line - line) > 1 for m in chosen for line in build.bug_lines)
    assert len({m.operator for m in chosen}) >= 6
    assert all(mutants.killed_by_regression(build, chosen, seed=3))


def test_equivalent_mutants_are_filtered_out(bugs, entry) -> None:
    """Widening $clog2(DEPTH + 1) to $clog2(DEPTH - 1) changes nothing for DEPTH = 6: the filter must see that."""
    bug = next(b for b in bugs if b.design == "fifo" and b.id == "count_rw")
    build = library.build(entry.data_dir, library.DESIGNS["fifo"], {"WIDTH": 8, "DEPTH": 6}, bug)
    source = build.golden["sync_fifo"]
    equivalent = mutants.Mutant("sync_fifo", "plus->minus", 0, source.replace("$clog2(DEPTH + 1)", "$clog2(DEPTH - 1)"))
    real = mutants.Mutant("sync_fifo", "eq->ne", 0, source.replace("(count == FULL_COUNT)", "(count != FULL_COUNT)"))
    assert mutants.killed_by_regression(build, [equivalent, real], seed=1) == [False, True]


# -- the judges ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("report, passed, note", [
    ({"module": "sync_fifo", "signal": "full", "line": 90, "explanation": "x " * 10}, True, "faulty one"),
    ({"module": "rtl/sync_fifo.v", "signal": "u_fifo.count[3:0]", "line": 29, "explanation": "x " * 10}, True, "line 29"),
    ({"module": "sync_fifo", "signal": "dout", "line": 34, "explanation": "x " * 10}, False, "4 lines from"),
    ({"module": "sync_fifo", "signal": "full, empty", "line": 30, "explanation": "x " * 10}, False, "names 2 signals"),
    ({"module": "sync_fifo", "signal": "dout", "line": [29, 30, 31], "explanation": "x " * 10}, False, "names 3 lines"),
    ({"module": "uart_tx", "signal": "full", "line": 30, "explanation": "x " * 10}, False, "not the module"),
    ({"module": "sync_fifo", "signal": "full", "line": 30, "explanation": "short"}, False, "paragraph"),
    ({"module": "sync_fifo", "signal": "full"}, False, "lacks"),
    ([1, 2], False, "JSON object"),
])
def test_bug_report_judge(report, passed: bool, note: str) -> None:
    verdict = judging.judge_report(json.dumps(report), "sync_fifo", [30], ("full", "count"))
    assert verdict.passed is passed and note in verdict.detail


def test_bug_report_judge_rejects_non_json() -> None:
    assert not judging.judge_report("{'module': 1", "m", [1], ("s",)).passed
    assert not judging.judge_report("[" * 100000, "m", [1], ("s",)).passed


def test_synthesis_rules_and_token_comparison() -> None:
    clean = "module m(input wire clk, output reg q);\n  always @(posedge clk) q <= $signed(1'b1); // ok\nendmodule\n"
    assert judging.rule_violations(clean) == []
    dirty = ('`include "x.v"\nmodule m(input wire clk, output reg q);\ninitial q = 0;\nalways @(posedge clk) begin\n'
             '  q <= #1 tb.stim[0]; $display("x"); force q = 1;\nend\nendmodule\n')
    problems = " | ".join(judging.rule_violations(dirty))
    for expected in ("`include", "'initial'", "$display", "delay", "hierarchical reference", "'force'", "string literal"):
        assert expected in problems
    assert hdl.tokens("a <= b + 8'h1; // c") == hdl.tokens("/* x */ a<=b\n +   8'h1 ;")
    given = {"a": "module a; wire x = 1; endmodule", "b": "module b; endmodule"}
    assert judging.other_modules_changed(given, {"a": "module a; wire x = 0; endmodule", "b": given["b"]}, "a") == []
    assert judging.other_modules_changed(given, {"a": given["a"], "b": "module b; wire y; endmodule"}, "a") == ["b"]


# -- generation ---------------------------------------------------------------------------------------------------

def generate(task, entry, tier: str, seed: int, root: Path) -> tuple[Instance, Path, Path]:
    workspace, hidden = root / "workspace", root / "hidden"
    workspace.mkdir(parents=True)
    hidden.mkdir()
    instance = task.generate(GenContext(workspace, hidden, entry.data_dir, tier, seed), np.random.default_rng(seed))
    return instance, workspace, hidden


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("tier", TIERS)
def test_same_seed_same_bytes_other_seeds_other_work(task, entry, tier: str, tmp_path: Path) -> None:
    first, ws1, hid1 = generate(task, entry, tier, 5, tmp_path / "a")
    again, ws2, hid2 = generate(task, entry, tier, 5, tmp_path / "b")
    assert first.instruction == again.instruction and first.state == again.state
    assert snapshot(ws1) == snapshot(ws2) and snapshot(hid1) == snapshot(hid2)
    assert {"spec.md", "report.txt"} <= set(snapshot(ws1))
    assert ("verify/tb_skeleton.v" in snapshot(ws1)) is (tier == "near-term")
    others = [generate(task, entry, tier, seed, tmp_path / f"s{seed}")[0].state for seed in range(6, 12)]
    assert len({(s["design"], s["bug"], tuple(s["params"].items())) for s in [first.state, *others]}) >= 4
    # The golden design never reaches the workspace, and the workspace RTL is not the golden RTL.
    golden = {name: text for name, text in snapshot(hid1).items() if name.startswith("golden/")}
    workspace_text = b"".join(snapshot(ws1).values())
    assert golden and all(text not in workspace_text for text in golden.values())
    bug_file = f"rtl/{first.state['bug_module']}.v"
    rebuilt = variants.rebuild(entry.data_dir, first.state)
    assert snapshot(ws1)[bug_file].decode() != rebuilt.golden[first.state["bug_module"]]
    for word in ("verify/run.sh", "bug_report.json", "rtl_fixed/", "RTL_DIR", "verilator"):
        assert word in first.instruction


def test_near_term_skeleton_compiles_and_passes_as_given(task, entry, tmp_path: Path) -> None:
    for seed in range(4):
        _, workspace, _ = generate(task, entry, "near-term", seed, tmp_path / str(seed))
        done = subprocess.run("iverilog -g2012 -s tb -o sim.vvp verify/tb_skeleton.v rtl/*.v && vvp -n sim.vvp",
                              shell=True, cwd=workspace, capture_output=True, text=True)
        assert done.returncode == 0 and "PASS" in done.stdout, done.stderr


# -- checkers driven directly (no environment) ------------------------------------------------------------------------

def run_actions(workspace: Path, actions: list[A.Action]) -> None:
    """Execute python/shell actions the way the agent's interpreter and shell would, in the workspace."""
    for action in actions:
        kind = A.kind_of(action)
        if kind == "python":
            argv = [sys.executable, "-c", action["text"]]
        elif kind == "shell":
            argv = ["bash", "-c", action["text"]]
        else:
            continue
        done = subprocess.run(argv, cwd=workspace, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-2000:]


def evaluate(task, entry, tier: str, instance: Instance, workspace: Path, hidden: Path) -> MilestoneBook:
    book = MilestoneBook(entry.card.milestones_for(tier), tier, task.checkers())
    book.evaluate(CheckContext(workspace, hidden, instance, tier, entry.data_dir, NoJail(workspace).run), final=True)
    assert not book.errors, book.errors
    return book


@pytest.mark.slow
def test_every_cheat_is_caught_by_its_milestone(task, entry, tmp_path: Path) -> None:
    tier, seed = "near-term", 4  # a round-robin arbiter: a short testbench keeps the replay table small
    instance, workspace, hidden = generate(task, entry, tier, seed, tmp_path / "base")
    oracle = task.oracle(instance, tier)
    run_actions(workspace, oracle[:-1])
    assert evaluate(task, entry, tier, instance, workspace, hidden).full_pass
    cheats = task.cheats(instance, tier)
    assert len(cheats) >= 6 and {c.catches for c in cheats} >= {"tb_no_false_alarm", "tb_detects_bug",
                                                                  "tb_mutation_score", "rtl_fixed", "bug_localized"}
    for cheat in cheats:
        # Cheats start from the oracle's own work; replay only what they add to it.
        assert [A.describe(a) for a in cheat.actions[:len(oracle) - 1]] == [A.describe(a) for a in oracle[:-1]]
        copy = tmp_path / cheat.name
        shutil.copytree(workspace, copy)
        run_actions(copy, cheat.actions[len(oracle) - 1:])
        book = evaluate(task, entry, tier, instance, copy, hidden)
        report = book.report()
        assert not book.full_pass, cheat.name
        assert not report[cheat.catches]["checker_passed"], (cheat.name, report[cheat.catches]["detail"])
        if cheat.name == "fix_replays_own_stimulus":
            # The replayed "fix" fools the testbench it was recorded from, and only the regression sees through it.
            own = subprocess.run(["bash", "verify/run.sh"], cwd=copy, env={**os.environ, "RTL_DIR": "rtl_fixed"},
                                 capture_output=True, text=True)
            assert own.returncode == 0, own.stdout[-500:]
            assert report["rtl_fixed"]["metrics"]["regression_mismatches"] > 0


def test_garbage_deliverables_fail_without_checker_errors(task, entry, tmp_path: Path) -> None:
    instance, workspace, hidden = generate(task, entry, "full-spectrum", 2, tmp_path / "g")
    (workspace / "verify").mkdir(exist_ok=True)
    (workspace / "verify" / "run.sh").write_bytes(b"\x00\xff\xfe garbage \x00")
    (workspace / "bug_report.json").write_text('{"module": 3, "signal": null, "line": "x", "explanation": []}')
    (workspace / "rtl_fixed").mkdir()
    (workspace / "rtl_fixed" / "junk.v").write_bytes(b"module ( endmodule \xff\xfe")
    book = evaluate(task, entry, "full-spectrum", instance, workspace, hidden)
    assert book.potential() == 0.0
    assert all(not v["checker_passed"] for v in book.report().values())

    # Links out of the workspace are refused, never followed.
    for path in (workspace / "bug_report.json", workspace / "verify" / "run.sh"):
        path.unlink()
        path.symlink_to("/etc/shadow")
    shutil.rmtree(workspace / "rtl_fixed")
    (workspace / "rtl_fixed").symlink_to(hidden / "golden")
    book = evaluate(task, entry, "full-spectrum", instance, workspace, hidden)
    assert book.potential() == 0.0
    report = book.report()
    assert "outside the workspace" in report["rtl_fixed"]["detail"]
    assert "outside the workspace" in report["bug_localized"]["detail"]

    # A testbench that never ends is cut at its time limit and reported, not waited for.
    (workspace / "verify" / "run.sh").unlink()
    (workspace / "verify" / "run.sh").write_text("#!/usr/bin/env bash\nexec sleep 1000\n")
    impatient = type(task)(task.card, task.data_dir)
    impatient.tb_timeout = 2.0
    book = evaluate(impatient, entry, "full-spectrum", instance, workspace, hidden)
    assert "timed out" in book.report()["tb_runs"]["detail"]


# -- through the environment ------------------------------------------------------------------------------------------

@pytest.fixture
def make_env(sandbox: str):
    made = []

    def make(tier: str):
        env = gym.make(TASK_ID, tier=tier, sandbox=sandbox)
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()


def play(env, actions) -> tuple[float, dict]:
    total, info = 0.0, {}
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        total += reward
        assert info["status"] == "ok", info.get("checker_errors")
        if terminated or truncated:
            break
    return total, info


@pytest.mark.parametrize("tier, seed", [("near-term", 1), ("full-spectrum", 4), ("last-exam", 2)])
def test_oracle_reaches_full_pass(make_env, tier: str, seed: int) -> None:
    env = make_env(tier)
    env.reset(seed=seed)
    total, info = play(env, env.unwrapped.oracle_actions())
    assert info["full_pass"], {k: v["detail"] for k, v in info["milestones"].items() if not v["passed"]}
    assert total == pytest.approx(1.0) and info["score"] == pytest.approx(1.0)


@pytest.mark.slow
@pytest.mark.parametrize("tier, seed", [("near-term", 11), ("full-spectrum", 6), ("full-spectrum", 11),
                                        ("last-exam", 4), ("last-exam", 8)])
def test_oracle_reaches_full_pass_on_more_seeds(make_env, tier: str, seed: int) -> None:
    test_oracle_reaches_full_pass(make_env, tier, seed)


def test_doing_nothing_scores_zero(make_env) -> None:
    env = make_env("full-spectrum")
    env.reset(seed=3)
    total, info = play(env, [A.submit()])
    assert total == 0.0 and info["score"] == 0.0 and not info["full_pass"]
    assert "verify/run.sh does not exist" in info["milestones"]["tb_runs"]["detail"]
