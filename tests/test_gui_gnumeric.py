"""Gnumeric end to end: GUI actions only (click a cell, type a formula, ctrl+s); ssconvert checks the file."""

from __future__ import annotations

import gzip

import gymnasium as gym
import numpy as np
import pytest

from ale_gym import actions as A
from ale_gym.tasks.registry import get_entry, load_task

TASK = "ALE/Gnumeric-Formula-v0"
B1_IN_WINDOW = (176, 200)  # centre of cell B1 from the top-left of Gnumeric's client area
SAVE_POLLS = 20  # wait steps of 0.5 s while Gnumeric writes the file


@pytest.fixture
def gui_env(sandbox: str):
    env = gym.make(TASK, sandbox=sandbox)
    yield env
    env.close()


@pytest.fixture
def text_env(sandbox: str):
    env = gym.make(TASK, sandbox=sandbox, gui=False)
    yield env
    env.close()


def run_until_done(env, actions):
    total, info, done = 0.0, {}, False
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        total += reward
        done = terminated or truncated
        if done:
            break
    return total, info, done


@pytest.mark.gui
@pytest.mark.slow
def test_formula_typed_through_the_gui_and_saved_earns_the_reward(gui_env) -> None:
    obs, info = gui_env.reset(seed=5)
    count = gui_env.unwrapped._instance.state["count"]
    [window] = [w for w in info["windows"] if "ledger.gnumeric" in w["title"]]
    assert window["focused"]
    assert obs["screenshot"].shape == (800, 1280, 3) and obs["screenshot"].std() > 0
    x, y = window["x"] + B1_IN_WINDOW[0], window["y"] + B1_IN_WINDOW[1]
    total = 0.0
    for action in (A.click(x, y), A.type_text(f"=SUM(A1:A{count})\n"), A.key("ctrl", "s")):
        after, reward, terminated, _, info = gui_env.step(action)
        total += reward
        assert info["status"] == "ok"
    assert not np.array_equal(after["screenshot"], obs["screenshot"])  # the screen follows the work
    polls = 0
    while not terminated and polls < SAVE_POLLS:  # the save lands asynchronously: poll by stepping
        _, reward, terminated, _, info = gui_env.step(A.wait(0.5))
        total += reward
        polls += 1
    assert info["full_pass"], info["milestones"]
    assert terminated and total == pytest.approx(1.0)
    assert info["milestones"]["total_value"]["passed"] and info["milestones"]["is_formula"]["passed"]
    saved = (gui_env.unwrapped.workspace / "ledger.gnumeric").read_bytes()
    assert saved[:2] == b"\x1f\x8b" and f"=sum(a1:a{count})".encode() in gzip.decompress(saved).lower()


@pytest.mark.gui
@pytest.mark.slow
def test_the_oracle_reaches_full_pass(gui_env) -> None:
    gui_env.reset(seed=1)
    task = gui_env.unwrapped.task
    total, info, done = run_until_done(gui_env, task.oracle(gui_env.unwrapped._instance, "near-term"))
    assert done and info["full_pass"] and total == pytest.approx(1.0), info["milestones"]


def test_doing_nothing_scores_zero(text_env) -> None:
    text_env.reset(seed=2)
    _, reward, terminated, _, info = text_env.step(A.submit())
    assert terminated and reward == 0.0 and info["score"] == 0.0 and info["status"] == "ok"
    assert "not a number" in info["milestones"]["total_value"]["detail"]


def test_each_cheat_misses_full_pass_and_fails_its_milestone(text_env) -> None:
    text_env.reset(seed=4)
    instance = text_env.unwrapped._instance
    cheats = text_env.unwrapped.task.cheats(instance, "near-term")
    assert {c.catches for c in cheats} == {"total_value", "is_formula"}
    for cheat in cheats:
        text_env.reset(seed=4)
        _, info, _ = run_until_done(text_env, cheat.actions)
        assert not info["full_pass"], cheat.name
        assert info["milestones"][cheat.catches]["passed"] is False, (cheat.name, info["milestones"])
        assert info["status"] == "ok"


@pytest.mark.parametrize("garbage", [b"", b"\x1f\x8b\x08\x00broken", b"<not-xml", b"\x00\xff" * 100,
                                     gzip.compress(b"<gnm:Workbook xmlns:gnm='http://www.gnumeric.org/v10.dtd'/>")])
def test_garbage_workbooks_fail_with_a_reason(text_env, garbage: bytes) -> None:
    text_env.reset(seed=0)
    (text_env.unwrapped.workspace / "ledger.gnumeric").write_bytes(garbage)
    _, _, _, _, info = text_env.step(A.submit())
    assert info["status"] == "ok" and info["score"] == 0.0
    assert all(m["detail"] for m in info["milestones"].values())


def test_generation_is_deterministic_and_seed_dependent(tmp_path) -> None:
    from ale_gym.tasks import GenContext

    entry = get_entry(TASK)
    task = load_task(entry)
    books = []
    for run, seed in enumerate((7, 7, 8)):
        ws, hidden = tmp_path / f"ws{run}", tmp_path / f"hidden{run}"
        ws.mkdir()
        hidden.mkdir()
        instance = task.generate(GenContext(ws, hidden, entry.data_dir, "near-term", seed), np.random.default_rng(seed))
        books.append(((ws / "ledger.gnumeric").read_bytes(), instance.instruction))
    assert books[0] == books[1] and books[0][0] != books[2][0]
