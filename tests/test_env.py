"""AleEnv: Gymnasium conformance, seeding, milestone rewards, caching, errors, vector envs."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import ale_gym
from ale_gym import actions as A
from ale_gym.tasks.registry import all_entries

ORACLE = [
    A.shell("wc -w < text.txt | tr -d ' ' > count.txt"),
    A.python("import collections\nranked = collections.Counter(open('text.txt').read().split()).most_common()\n"
             "open('top.txt', 'w').write(''.join(f'{w}\\t{c}\\n' for w, c in ranked))\n"
             "open('report.txt', 'w').write(f'{sum(c for _, c in ranked)} words, top {ranked[0][0]}')"),
]


def episode(env, actions, seed=0):
    obs, info = env.reset(seed=seed)
    rewards, infos = [], [info]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        infos.append(info)
        if terminated or truncated:
            break
    return rewards, infos, (terminated, truncated)


def test_same_seed_same_instance_different_seed_different(word_env):
    obs_a, _ = word_env.reset(seed=11)
    text_a = (word_env.unwrapped.workspace / "text.txt").read_bytes()
    obs_b, _ = word_env.reset(seed=11)
    text_b = (word_env.unwrapped.workspace / "text.txt").read_bytes()
    word_env.reset(seed=12)
    text_c = (word_env.unwrapped.workspace / "text.txt").read_bytes()
    assert text_a == text_b and obs_a["instruction"] == obs_b["instruction"] and obs_a["files"] == obs_b["files"]
    assert text_a != text_c


def test_observations_are_contained_and_mean_something(word_env):
    obs, info = word_env.reset(seed=0)
    space = word_env.observation_space
    assert space.contains(obs)
    assert obs["files"] == f"text.txt\t{(word_env.unwrapped.workspace / 'text.txt').stat().st_size}"
    assert obs["screenshot"].std() > 0  # the rendered terminal, not a blank frame
    obs, *_ = word_env.step(A.shell("printf 'tab\\there, accents éü, quotes \"x\"\\n'; ls -la"))
    assert space.contains(obs)
    assert "accents éü" in obs["terminal"]


def test_return_equals_score_and_rewards_telescope(word_env):
    rewards, infos, (terminated, truncated) = episode(word_env, ORACLE + [A.submit()])
    assert [round(r, 9) for r in rewards] == [0.4, 0.3, 0.3]
    assert terminated and not truncated
    assert math.isclose(sum(rewards), infos[-1]["score"]) and infos[-1]["full_pass"]
    assert infos[-1]["status"] == "ok"


def test_doing_nothing_scores_zero(word_env):
    rewards, infos, (terminated, _) = episode(word_env, [A.submit()])
    assert rewards == [0.0] and terminated and infos[-1]["score"] == 0 and not infos[-1]["full_pass"]


def test_breaking_a_milestone_costs_its_reward(word_env):
    rewards, infos, _ = episode(word_env, [ORACLE[0], A.shell("echo 1 > count.txt"), ORACLE[0]])
    assert [round(r, 9) for r in rewards] == [0.4, -0.4, 0.4]


def test_prerequisites_gate_the_potential(word_env):
    # top.txt right but count.txt missing: the top milestone's checker passes, yet earns nothing.
    _, infos, _ = episode(word_env, [ORACLE[1]])
    top = infos[-1]["milestones"]["top"]
    assert top["checker_passed"] and not top["passed"] and infos[-1]["score"] == 0


def test_checkers_rerun_only_when_their_files_change(word_env):
    task = word_env.unwrapped.task
    calls = []
    original = task.check_count
    task.check_count = lambda ctx: calls.append(1) or original(ctx)
    try:
        episode(word_env, [ORACLE[0], A.shell("echo unrelated > notes.txt"), A.shell("true"), A.shell("echo 7 > count.txt")])
    finally:
        del task.check_count
    assert len(calls) == 2


def test_submit_only_milestones_wait_for_submit(word_env):
    _, infos, _ = episode(word_env, ORACLE)
    assert not infos[-1]["milestones"]["report"]["checked"]
    assert math.isclose(infos[-1]["score"], 0.7)


def test_a_crashed_checker_is_an_error_not_a_failure(word_env):
    task = word_env.unwrapped.task
    task.check_count = lambda ctx: 1 / 0
    try:
        _, infos, _ = episode(word_env, [ORACLE[0]])
    finally:
        del task.check_count
    info = infos[-1]
    assert info["status"] == "checker_error"
    assert "ZeroDivisionError" in info["checker_errors"]["count"]
    assert not info["milestones"]["count"]["passed"]


def test_garbage_deliverables_fail_with_reasons_not_errors(word_env):
    _, infos, _ = episode(word_env, [A.shell("head -c 5000 /dev/urandom > count.txt; ln -s /etc/shadow top.txt"), A.submit()])
    info = infos[-1]
    assert info["status"] == "ok"
    assert "limit" in info["milestones"]["count"]["detail"]
    assert "outside the workspace" in info["milestones"]["top"]["detail"]


def test_invalid_action_raises_and_leaves_the_episode_unchanged(word_env):
    word_env.reset(seed=0)
    word_env.step(A.shell("echo 1 > marker"))
    before = word_env.unwrapped._steps
    for bad in ({"kind": 0}, {**A.shell("ls"), "kind": 42}, A.click(10, 10)):
        with pytest.raises(ValueError):
            word_env.step(bad)
    assert word_env.unwrapped._steps == before
    obs, *_ = word_env.step(A.shell("cat marker"))
    assert obs["terminal"].strip() == "1"


def test_step_budget_truncates_and_judges_everything(sandbox):
    env = gym.make("ALE/Word-Stats-v0", sandbox=sandbox, max_steps=2)
    rewards, infos, (terminated, truncated) = episode(env, [ORACLE[0], A.shell("true"), A.shell("true")])
    assert truncated and not terminated and len(rewards) == 2
    assert infos[-1]["milestones"]["report"]["checked"]  # the submit-only milestone was judged at the budget
    assert math.isclose(sum(rewards), infos[-1]["score"]) and math.isclose(infos[-1]["score"], 0.4)
    # Reaching full pass at the budget (the final checks run there) terminates rather than truncates.
    rewards, infos, (terminated, truncated) = episode(env, ORACLE + [A.shell("true")])
    env.close()
    assert terminated and not truncated and len(rewards) == 2
    assert infos[-1]["full_pass"] and math.isclose(sum(rewards), 1.0)


def test_tier_is_chosen_at_make_or_reset(sandbox):
    env = gym.make("ALE/Word-Stats-v0", sandbox=sandbox, tier="full-spectrum")
    _, info = env.reset(seed=0)
    assert info["tier"] == "full-spectrum" and len((env.unwrapped.workspace / "text.txt").read_text().split()) == 5000
    _, info = env.reset(seed=0, options={"tier": "near-term"})
    assert info["tier"] == "near-term"
    with pytest.raises(ValueError, match="tiers"):
        env.reset(options={"tier": "last-exam"})
    env.close()
    with pytest.raises(ValueError, match="tiers"):
        gym.make("ALE/Word-Stats-v0", sandbox=sandbox, tier="impossible")


def test_render_modes(sandbox):
    env = gym.make("ALE/Word-Stats-v0", sandbox=sandbox, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(A.shell("echo visible"))
    frame = env.render()
    assert frame.shape == (800, 1280, 3) and frame.dtype == np.uint8
    env.close()
    env = gym.make("ALE/Word-Stats-v0", sandbox=sandbox, render_mode="ansi")
    env.reset(seed=0)
    env.step(A.shell("echo visible"))
    assert env.render().strip() == "visible"
    env.close()


def test_record_video_writes_a_playable_file(tmp_path, sandbox):
    pytest.importorskip("moviepy")
    env = gym.make("ALE/Word-Stats-v0", sandbox=sandbox, render_mode="rgb_array")
    env = gym.wrappers.RecordVideo(env, str(tmp_path), episode_trigger=lambda i: True, disable_logger=True)
    episode(env, ORACLE + [A.submit()])
    env.close()
    videos = list(tmp_path.glob("*.mp4"))
    assert videos and videos[0].stat().st_size > 1000
    from moviepy import VideoFileClip

    with VideoFileClip(str(videos[0])) as clip:
        assert clip.size == [1280, 800] and clip.duration > 0


@pytest.mark.parametrize("entry", all_entries(), ids=lambda e: e.card.id)
def test_check_env_on_every_registered_task(entry, sandbox):
    env = gym.make(entry.card.id, sandbox=sandbox, gui=False)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_async_vector_env_returns_each_envs_own_text(sandbox):
    envs = gym.make_vec("ALE/Word-Stats-v0", num_envs=2, vectorization_mode="async", sandbox=sandbox)
    try:
        obs, infos = envs.reset(seed=[3, 4])
        assert obs["screenshot"].shape == (2, 800, 1280, 3)
        actions = {key: np.stack([a[key] for a in (A.shell("echo first é"), A.shell("echo second ✓"))])
                   if key != "text" else ("echo first é", "echo second ✓")
                   for key in A.shell("x")}
        obs, rewards, terminated, truncated, infos = envs.step(actions)
        assert tuple(t.strip() for t in obs["terminal"]) == ("first é", "second ✓")
        assert list(infos["seed"]) == [3, 4]
    finally:
        envs.close()


def test_package_exports():
    assert ale_gym.actions is A
    assert isinstance(ale_gym.__version__, str)
