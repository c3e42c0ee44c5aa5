"""The `ale-gym` command: list, show, play and validate (eval and report are exercised in test_report)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import gymnasium
import pytest

from ale_gym.cli import main
from ale_gym.tasks import registry

FLAWED_TOML = """
id = "ALE/Flawed-Echo-v0"
title = "A task with every flaw that validation must catch"
cluster = "11"
subfield = "11.2"
soc = "25-4022 Librarians and Media Collections Specialists"
tiers = ["near-term", "full-spectrum"]
tools = ["bash"]
deliverables = ["answer.txt"]
max_steps = 10
time_limit_s = 120

[[milestones]]
id = "free"
description = "passes whatever the agent does"
weight = 0.3

[[milestones]]
id = "answer"
description = "answer.txt holds the number of secret.txt"
weight = 0.7
reads = ["answer.txt"]
"""

FLAWED_PY = '''
"""Every flaw the quality gate exists for, one per check."""
import time

from ale_gym import actions as A
from ale_gym.tasks import Cheat, Instance, Task


class FlawedEcho(Task):
    """Copy a number; the task itself is broken on purpose."""

    def generate(self, ctx, rng):
        secret = int(rng.integers(1000, 9999))
        (ctx.workspace / "secret.txt").write_text(f"{secret}\\n")
        (ctx.workspace / "stamp.txt").write_text(f"{time.time_ns()}\\n")  # not a function of the seed
        return Instance(instruction="Copy the number in secret.txt into answer.txt.", state={"secret": secret})

    def check_free(self, ctx):
        return True  # passes when nothing was done

    def check_answer(self, ctx):
        return int(ctx.read_text("answer.txt")) == ctx.instance.state["secret"]  # raises on an empty file

    def oracle(self, instance, tier):
        if tier == "full-spectrum":
            return [A.shell("echo 0 > answer.txt")]  # wrong on one tier
        return [A.shell("cp secret.txt answer.txt")]

    def cheats(self, instance, tier):
        return [Cheat("claims_free", "free", [A.shell("echo 1 > answer.txt")])]  # 'free' can catch nothing
'''


@pytest.fixture
def flawed_task(tmp_path):
    folder = tmp_path / "pack" / "flawed_echo"
    folder.mkdir(parents=True)
    (folder / "task.toml").write_text(FLAWED_TOML)
    (folder / "task.py").write_text(FLAWED_PY)
    entry = registry.register_folder(folder)
    yield entry.card.id
    registry._TASKS.pop(entry.card.id, None)
    gymnasium.registry.pop(entry.card.id, None)


def table(output: str) -> dict[tuple[str, str, str], str]:
    """(tier, seed, check) -> pass/FAIL from the printed validation table."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"^(ALE/\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(pass|FAIL)\b", line)
        if match:
            found[(match[2], match[3], match[4])] = match[5]
    return found


def test_list_shows_tasks_by_cluster_and_subfield_with_gaps(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^11\. Education & Information Services$", out, re.M)
    assert re.search(r"^\s+11\.2\s+Library & Information Science:\n\s+ALE/Word-Stats-v0\s+Word statistics.*\[near-term, full-spectrum\]", out, re.M)
    assert re.search(r"^\s+2\.1\s+Physics: -- no task yet --$", out, re.M)
    total = len(registry.all_entries())
    assert re.search(rf"^{total} tasks cover \d+ of 55 subfields \(\d+ gaps\)", out, re.M)
    assert main(["list", "--covered"]) == 0
    assert "no task yet" not in capsys.readouterr().out


def test_show_prints_the_card_and_a_sample_instruction(capsys):
    assert main(["show", "word-stats", "--tier", "full-spectrum", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ALE/Word-Stats-v0: Word statistics of a text file")
    assert re.search(r"report\s+\[near-term 0.3, full-spectrum 0.3\] requires count, top; at submit", out)
    assert "deliverables count.txt, top.txt, report.txt" in out and "20 steps, 600 s" in out
    assert "instruction (tier full-spectrum, seed 3)" in out and "Input files: text.txt" in out
    with pytest.raises(SystemExit, match="no task 'nonexistent'"):
        main(["show", "nonexistent"])


def test_play_prints_each_step_and_records_the_trajectory(tmp_path, capsys, sandbox):
    assert main(["play", "ALE/Word-Stats-v0", "--seed", "2", "--record", str(tmp_path), "--sandbox", sandbox]) == 0
    out = capsys.readouterr().out
    steps = re.findall(r"^step\s+(\d+)\s+reward ([+-]\d\.\d+)\s+score (\d\.\d+)\s+\[(.*?)\]", out, re.M)
    assert [s[0] for s in steps] == ["1", "2", "3"]
    assert [s[2] for s in steps] == ["0.400", "0.700", "1.000"] and steps[-1][3] == "+count +top +report"
    assert "status ok  score 1.000  full pass True  steps 3" in out
    lines = (tmp_path / "ALE_Word-Stats-v0_near-term_seed2" / "steps.jsonl").read_text().splitlines()
    assert [json.loads(x)["type"] for x in lines] == ["reset", "step", "step", "step", "end"]
    assert main(["play", "Word-Stats", "--agent", "nop", "--sandbox", sandbox]) == 0
    assert "score 0.000  full pass False  steps 1" in capsys.readouterr().out


def test_validate_passes_a_sound_task(capsys, sandbox):
    assert main(["validate", "Word-Stats", "--seeds", "1", "--tiers", "near-term", "--sandbox", sandbox]) == 0
    results = table(capsys.readouterr().out)
    assert set(results.values()) == {"pass"}
    assert {c for _, _, c in results} == {"nop", "oracle", "cheat:off_by_one", "cheat:reversed_top", "garbage:random",
                                          "garbage:empty", "garbage:directory", "determinism"}


def test_validate_catches_every_kind_of_flaw_and_exits_nonzero(flawed_task, capsys, sandbox):
    assert main(["validate", flawed_task, "--seeds", "1", "--workers", "2", "--sandbox", sandbox]) == 1
    out = capsys.readouterr().out
    results = table(out)
    failed = {(tier, check) for (tier, _, check), result in results.items() if result == "FAIL"}
    assert failed == {(tier, check) for tier in ("near-term", "full-spectrum")
                      for check in ("nop", "cheat:claims_free", "garbage:empty", "determinism")} | {("full-spectrum", "oracle")}
    assert results[("near-term", "0", "oracle")] == "pass" and results[("near-term", "0", "garbage:directory")] == "pass"
    assert re.search(r"cheat:claims_free\s+FAIL.*free passes: the cheat is not caught", out)
    assert re.search(r"garbage:empty\s+FAIL.*status checker_error: checker answer raised ValueError", out)
    assert re.search(r"nop\s+FAIL.*score 0\.300 after submitting at once", out)
    assert re.search(r"full-spectrum\s+0\s+oracle\s+FAIL.*score 0\.300; failing: answer", out)


def test_the_console_script_is_installed(tmp_path):
    script = Path(sys.executable).parent / "ale-gym"
    result = subprocess.run([str(script), "show", "Word-Stats"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ALE/Word-Stats-v0")
    bad = subprocess.run([str(script), "play", "Word-Stats", "--agent", "no.such:Agent"], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0



def test_eval_refuses_bad_arguments_before_running_anything(tmp_path):
    with pytest.raises(SystemExit, match="use one of"):
        main(["eval", "--agent", "gpt", "--out", str(tmp_path / "a")])
    with pytest.raises(SystemExit, match="no task matches"):
        main(["eval", "--agent", "nop", "--tasks", "nothing*", "--out", str(tmp_path / "b")])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b" / "episodes.jsonl").exists()
