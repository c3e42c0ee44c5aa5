"""TrajectoryRecorder: the documented JSON-lines format, frames written only when they change, episode folders."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from ale_gym import actions as A
from ale_gym.harness.recorder import STEPS_FILE, TrajectoryRecorder, read_trajectory

TASK = "ALE/Word-Stats-v0"


@pytest.fixture
def recorded(tmp_path, sandbox):
    env = TrajectoryRecorder(gym.make(TASK, sandbox=sandbox), tmp_path / "traj")
    yield env
    env.close()


def play(env, actions, seed=0):
    observation, info = env.reset(seed=seed)
    plan = env.unwrapped.oracle_actions() if actions is None else actions
    frames = [observation["screenshot"].copy()]
    for action in plan:
        observation, reward, terminated, truncated, info = env.step(action)
        frames.append(observation["screenshot"].copy())
        if terminated or truncated:
            break
    return frames, info


def test_one_line_per_step_with_the_documented_fields(recorded):
    plan = [A.shell("wc -w < text.txt | tr -d ' ' > count.txt"), A.wait(0.01), A.shell("printf 'a\\tb éü\\n'; (exit 3)"), A.submit()]
    frames, info = play(recorded, plan, seed=4)
    lines = (recorded.episode_dir / STEPS_FILE).read_text("utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["type"] for r in records] == ["reset", "step", "step", "step", "step", "end"]
    reset, *steps, end = records
    assert reset["task_id"] == TASK and reset["seed"] == 4 and reset["tier"] == "near-term"
    assert "count.txt" in reset["instruction"] and reset["files"].startswith("text.txt\t")
    for number, (step, action) in enumerate(zip(steps, plan), start=1):
        assert step["step"] == number
        assert A.describe(A.parse(step["action"])) == A.describe(action)  # the text form reads back
        assert set(step["milestones"]) == {"count", "top", "report"}
    assert steps[0]["reward"] == pytest.approx(0.4) and steps[0]["milestones"]["count"]["passed"] is True
    assert steps[0]["milestones"]["count"]["detail"].startswith("count ")
    assert steps[2]["exit_code"] == 3 and "a\tb éü" in steps[2]["terminal"]
    assert steps[-1]["terminated"] is True and steps[-1]["truncated"] is False
    assert math.isclose(steps[-1]["return"], sum(s["reward"] for s in steps))
    assert end["reason"] == "terminated" and end["steps"] == 4
    assert end["info"]["score"] == pytest.approx(info["score"]) and end["info"]["milestones"]["report"]["checked"] is True


def test_frames_are_written_only_when_the_screen_changes(recorded):
    plan = [A.shell("echo first"), A.wait(0.01), A.shell("echo second"), A.submit()]
    frames, _ = play(recorded, plan)
    records = read_trajectory(recorded.episode_dir)
    shown = [r for r in records if r["type"] in ("reset", "step")]
    assert len(shown) == len(frames)
    written = sorted(p.name for p in recorded.episode_dir.glob("*.png"))
    assert written == sorted(r["frame"] for r in shown if r["frame_changed"])
    for record, frame in zip(shown, frames):
        # every record names the PNG that shows its screen, byte for byte
        stored = np.asarray(Image.open(recorded.episode_dir / record["frame"]).convert("RGB"))
        assert np.array_equal(stored, frame)
    changed = [r["frame_changed"] for r in shown]
    same_as_before = [not np.array_equal(a, b) for a, b in zip(frames, frames[1:])]
    assert changed == [True] + same_as_before
    assert changed[2] is False  # the wait left the terminal as it was
    digests = {hashlib.sha256((recorded.episode_dir / name).read_bytes()).hexdigest() for name in written}
    assert len(digests) == len(written)


def test_each_episode_gets_its_own_folder_and_abandoned_ones_are_closed(tmp_path, sandbox):
    env = TrajectoryRecorder(gym.make(TASK, sandbox=sandbox), tmp_path)
    try:
        env.reset(seed=1)
        env.step(A.shell("true"))
        play(env, None, seed=2)  # reset abandons the first episode; the oracle finishes the second
    finally:
        env.close()
    first, second = (read_trajectory(tmp_path / f"episode-{i:06d}") for i in (0, 1))
    assert first[-1]["type"] == "end" and first[-1]["reason"] == "reset" and first[-1]["steps"] == 1
    assert second[0]["seed"] == 2 and second[-1]["reason"] == "terminated" and second[-1]["info"]["full_pass"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episode-000000", "episode-000001"]


def test_named_episode_folders_are_replaced_not_mixed(tmp_path, sandbox):
    env = TrajectoryRecorder(gym.make(TASK, sandbox=sandbox), tmp_path, episode_name=lambda info: f"seed{info['seed']}")
    try:
        play(env, [A.shell("echo one"), A.shell("echo two"), A.submit()], seed=7)
        play(env, [A.submit()], seed=7)
    finally:
        env.close()
    records = read_trajectory(tmp_path / "seed7")
    assert [r["type"] for r in records] == ["reset", "step", "end"]
    assert sorted(p.name for p in (tmp_path / "seed7").glob("*.png")) == ["frame-000000.png"]


def test_a_bad_episode_name_is_refused(tmp_path, sandbox):
    env = TrajectoryRecorder(gym.make(TASK, sandbox=sandbox), tmp_path, episode_name=lambda info: "../escape")
    try:
        with pytest.raises(ValueError, match="plain folder name"):
            env.reset(seed=0)
    finally:
        env.close()


def test_the_quickstart_notebook_runs_on_a_small_task(tmp_path, sandbox):
    """The notebook's code cells, run in order with its task and run folder swapped for the test's."""
    if sandbox != "bwrap":
        pytest.skip("the notebook uses the default sandbox, which this machine cannot run")
    notebook = json.loads((Path(__file__).parents[1] / "examples" / "quickstart.ipynb").read_text("utf-8"))
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    assert cells[0].startswith('TASK = "ALE/')
    namespace: dict = {"TASK": TASK, "RUN": str(tmp_path)}
    for source in cells[1:]:
        exec(compile(source, "quickstart.ipynb", "exec"), namespace)  # noqa: S102 - our own example
    assert namespace["info"]["full_pass"] is True
    assert [r["type"] for r in namespace["records"]][-1] == "end"
    assert namespace["summary"]["overall"]["full_pass_rate"] == 1.0
    assert (tmp_path / "eval" / "report" / "index.html").is_file()
