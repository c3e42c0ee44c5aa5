"""The harness: agents, episodes, the result store, summaries, local and Ray evaluation, and validation of every task."""

from __future__ import annotations

import json

import pytest

from ale_gym import actions as A
from ale_gym.harness.agents import NopAgent, OracleAgent, RandomAgent, load_agent
from ale_gym.harness.episode import EpisodeJob, run_episode
from ale_gym.harness.runner import evaluate, plan, select_tasks
from ale_gym.harness.store import EPISODES_FILE, ResultStore, read_records
from ale_gym.harness.summary import summarize
from ale_gym.harness.validate import concrete_path, format_rows, validate
from ale_gym.tasks.registry import all_entries

TASK = "ALE/Word-Stats-v0"

DIES_ONCE = '''
"""An agent whose process dies the first time it meets each episode, then plays the oracle."""
import os
from pathlib import Path

from ale_gym import actions as A

MARKS = Path(__file__).parent / "marks"


class DiesOnce:
    def attach(self, env):
        self.env = env

    def reset(self, instruction, info):
        MARKS.mkdir(exist_ok=True)
        mark = MARKS / f"{info['tier']}-{info['seed']}"
        if not mark.exists():
            mark.write_text("died here once")
            os._exit(9)
        self.plan = list(self.env.unwrapped.oracle_actions())

    def act(self, observation, info):
        return self.plan.pop(0) if self.plan else A.submit()
'''

MISBEHAVING = '''
from ale_gym import actions as A


class Raises:
    def reset(self, instruction, info):
        self.steps = 0

    def act(self, observation, info):
        self.steps += 1
        if self.steps > 1:
            raise RuntimeError("the model API is down")
        return A.shell("wc -w < text.txt | tr -d ' ' > count.txt")


class Invalid:
    def reset(self, instruction, info):
        pass

    def act(self, observation, info):
        return {"kind": "teleport"}
'''


def comparable(records):
    """Episode records without what legitimately differs between runs (wall time)."""
    return sorted(({k: v for k, v in r.items() if k != "seconds"} for r in records),
                  key=lambda r: (r["task_id"], r["tier"], r["seed"]))


# -- agents -------------------------------------------------------------------------------------------
def test_builtin_agents_and_loading_from_modules_and_files(tmp_path):
    assert isinstance(load_agent("nop"), NopAgent)
    assert isinstance(load_agent("oracle"), OracleAgent)
    assert isinstance(load_agent("random"), RandomAgent)
    assert isinstance(load_agent("ale_gym.harness.agents:NopAgent"), NopAgent)
    (tmp_path / "mine.py").write_text(MISBEHAVING)
    assert type(load_agent(f"{tmp_path / 'mine.py'}:Raises")).__name__ == "Raises"
    for bad, message in [("gpt", "use one of"), ("no.such.module:Agent", "cannot import"),
                         ("ale_gym.harness.agents:Missing", "no class"), (f"{tmp_path / 'none.py'}:X", "no file"),
                         ("collections:OrderedDict", "does not implement")]:
        with pytest.raises((ValueError, TypeError), match=message):
            load_agent(bad)


def test_random_agent_takes_harmless_seeded_actions_then_submits(sandbox):
    job = EpisodeJob(TASK, "near-term", 5, "random", {"sandbox": sandbox})
    actions = []
    record = run_episode(job, on_step=lambda step, action, reward, info: actions.append(A.describe(action)))
    again = []
    run_episode(job, on_step=lambda step, action, reward, info: again.append(A.describe(action)))
    assert record["status"] == "ok" and record["steps"] == 4 and record["score"] == 0.0 and record["terminated"]
    assert actions[-1] == "submit()" and actions == again


def test_agent_failures_end_the_episode_as_agent_errors(tmp_path, sandbox):
    (tmp_path / "mine.py").write_text(MISBEHAVING)
    raised = run_episode(EpisodeJob(TASK, "near-term", 0, f"{tmp_path / 'mine.py'}:Raises", {"sandbox": sandbox}))
    assert raised["status"] == "agent_error" and "model API is down" in raised["error"]
    assert raised["steps"] == 1 and raised["score"] == pytest.approx(0.4)  # the step it did take still counts
    invalid = run_episode(EpisodeJob(TASK, "near-term", 0, f"{tmp_path / 'mine.py'}:Invalid", {"sandbox": sandbox}))
    assert invalid["status"] == "agent_error" and "missing keys" in invalid["error"] and invalid["steps"] == 0


def test_a_broken_environment_is_an_error_not_a_score(sandbox):
    record = run_episode(EpisodeJob(TASK, "last-exam", 0, "oracle", {"sandbox": sandbox}))
    assert record["status"] == "error" and "tiers" in record["error"] and record["full_pass"] is False


# -- planning, storage and statistics ----------------------------------------------------------------
def test_task_patterns_and_the_plan_respect_each_tasks_tiers():
    assert [e.card.id for e in select_tasks("word*")] == [TASK]
    assert [e.card.id for e in select_tasks("ALE/Word-Stats-v0,nothing")] == [TASK]
    assert select_tasks("nothing-*") == []
    assert {e.card.id for e in select_tasks(None)} == {e.card.id for e in all_entries()}
    jobs = plan(select_tasks("word_stats"), ["full-spectrum", "last-exam"], [0, 1], "nop", {}, None)
    assert [j.key for j in jobs] == [(TASK, "full-spectrum", 0), (TASK, "full-spectrum", 1)]


def test_store_writes_each_key_once_and_drops_errors_and_torn_lines(tmp_path):
    store = ResultStore(tmp_path, settings={"agent": "nop"})
    base = {"task_id": TASK, "tier": "near-term", "score": 0.0, "full_pass": False}
    assert store.add({**base, "seed": 0, "status": "ok"})
    assert not store.add({**base, "seed": 0, "status": "ok", "score": 1.0})
    assert store.add({**base, "seed": 1, "status": "error"})
    with (tmp_path / EPISODES_FILE).open("a") as out:
        out.write('{"task_id": "ALE/Word-Stats-v0", "tier": "near-te')  # a run killed mid-write
    reopened = ResultStore(tmp_path, settings={"agent": "nop"})
    assert len(reopened) == 1 and (TASK, "near-term", 0) in reopened and (TASK, "near-term", 1) not in reopened
    assert [json.loads(line)["seed"] for line in (tmp_path / EPISODES_FILE).read_text().splitlines()] == [0]
    with pytest.raises(ValueError, match="agent 'nop'"):
        ResultStore(tmp_path, settings={"agent": "oracle"})


def test_summary_rates_means_and_standard_errors():
    records = [{"task_id": "T", "cluster": "11", "tier": "near-term", "status": "ok", "full_pass": fp, "score": s}
               for fp, s in [(True, 1.0), (False, 0.5), (True, 1.0), (True, 1.0)]]
    records.append({"task_id": "T", "cluster": "11", "tier": "near-term", "status": "error", "full_pass": False, "score": 0.0})
    overall = summarize(records)["overall"]
    assert overall["episodes"] == 4 and overall["errors"] == 1
    assert overall["full_pass_rate"] == pytest.approx(0.75) and overall["full_pass_se"] == pytest.approx(0.25)
    assert overall["mean_score"] == pytest.approx(0.875) and overall["mean_score_se"] == pytest.approx(0.125)
    single = summarize(records[:1])["by_tier"]["near-term"]
    assert single["full_pass_rate"] == 1.0 and single["full_pass_se"] is None
    assert summarize(records)["by_cluster"]["11"]["name"] == "Education & Information Services"


# -- evaluation ---------------------------------------------------------------------------------------
def test_eval_is_resumable_and_skips_finished_episodes(tmp_path, sandbox):
    seen = []
    first = evaluate("oracle", tmp_path, tasks="Word-Stats", seeds=[0, 1], workers=2,
                     env_kwargs={"sandbox": sandbox}, progress=False, on_record=seen.append)
    assert first["overall"]["episodes"] == 4 and first["overall"]["full_pass_rate"] == 1.0
    assert sorted((r["tier"], r["seed"]) for r in seen) == [("full-spectrum", 0), ("full-spectrum", 1), ("near-term", 0), ("near-term", 1)]
    seen.clear()
    second = evaluate("oracle", tmp_path, tasks="Word-Stats", seeds=[0, 1, 2], workers=2,
                      env_kwargs={"sandbox": sandbox}, progress=False, on_record=seen.append)
    assert sorted((r["tier"], r["seed"]) for r in seen) == [("full-spectrum", 2), ("near-term", 2)]
    assert second["overall"]["episodes"] == 6
    lines = (tmp_path / EPISODES_FILE).read_text().splitlines()
    assert len(lines) == 6 and len({(json.loads(x)["tier"], json.loads(x)["seed"]) for x in lines}) == 6
    record = next(r for r in read_records(tmp_path) if r["seed"] == 2 and r["tier"] == "near-term")
    assert record["milestones"]["top"]["passed"] and record["steps"] == 3
    assert (tmp_path / "trajectories" / record["trajectory"] / "steps.jsonl").is_file()
    assert json.loads((tmp_path / "summary.json").read_text())["overall"]["episodes"] == 6


def test_local_workers_that_die_are_retried_or_reported_then_resumed(tmp_path, sandbox):
    (tmp_path / "dies.py").write_text(DIES_ONCE)
    agent = f"{tmp_path / 'dies.py'}:DiesOnce"
    given_up = evaluate(agent, tmp_path / "run", tasks="Word-Stats", tiers=["near-term"], seeds=[0], workers=1,
                        env_kwargs={"sandbox": sandbox}, retries=0, progress=False)
    assert given_up["overall"]["errors"] == 1
    assert "WorkerDied" in read_records(tmp_path / "run")[0]["error"]
    resumed = evaluate(agent, tmp_path / "run", tasks="Word-Stats", tiers=["near-term"], seeds=[0], workers=1,
                       env_kwargs={"sandbox": sandbox}, progress=False)
    assert (resumed["overall"]["episodes"], resumed["overall"]["errors"], resumed["overall"]["full_pass_rate"]) == (1, 0, 1.0)
    retried = evaluate(agent, tmp_path / "run2", tasks="Word-Stats", tiers=["full-spectrum"], seeds=[0, 1], workers=2,
                       env_kwargs={"sandbox": sandbox}, progress=False)
    assert retried["overall"]["episodes"] == 2 and retried["overall"]["full_pass_rate"] == 1.0
    assert len((tmp_path / "run2" / EPISODES_FILE).read_text().splitlines()) == 2


@pytest.mark.slow
def test_ray_backend_gives_the_local_results_and_survives_dying_workers(tmp_path, sandbox):
    ray = pytest.importorskip("ray")
    options = dict(tasks="Word-Stats", seeds=[0, 1], workers=2, env_kwargs={"sandbox": sandbox}, progress=False, record=False)
    local = evaluate("oracle", tmp_path / "local", **options)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        remote = evaluate("oracle", tmp_path / "ray", backend="ray", **options)
        (tmp_path / "dies.py").write_text(DIES_ONCE)
        dying = evaluate(f"{tmp_path / 'dies.py'}:DiesOnce", tmp_path / "dying", backend="ray", **options)
    finally:
        ray.shutdown()
    assert comparable(read_records(tmp_path / "local")) == comparable(read_records(tmp_path / "ray"))
    assert remote == local and local["overall"]["full_pass_rate"] == 1.0
    assert len(list((tmp_path / "marks").iterdir())) == 4  # every episode's worker died once
    assert dying["overall"]["episodes"] == 4 and dying["overall"]["errors"] == 0 and dying["overall"]["full_pass_rate"] == 1.0
    assert len((tmp_path / "dying" / EPISODES_FILE).read_text().splitlines()) == 4


# -- validation -----------------------------------------------------------------------------------------
def test_deliverable_patterns_become_concrete_names():
    assert concrete_path("part.nc") == "part.nc"
    assert concrete_path("rtl_fixed/*.v") == "rtl_fixed/garbage.v"
    assert concrete_path("out/") == "out/garbage"
    assert concrete_path("frame_[0-9]?.png") == "frame_xx.png"


def test_spread_validation_deals_each_cheat_and_garbage_kind_to_one_unit(sandbox):
    rows = validate([TASK], tiers=["near-term"], seeds=[0, 1], workers=2, sandbox=sandbox, spread=True)
    assert all(r.passed for r in rows), "\n" + format_rows(rows)
    by_seed = {seed: [r.check for r in rows if r.seed == seed] for seed in (0, 1)}
    assert by_seed == {0: ["nop", "oracle", "cheat:off_by_one", "garbage:random", "garbage:directory", "determinism"],
                       1: ["nop", "oracle", "cheat:reversed_top", "garbage:empty", "determinism"]}


@pytest.mark.slow
@pytest.mark.parametrize("task_id", [e.card.id for e in all_entries()])
def test_validate_every_task_on_two_seeds_of_every_tier(task_id, sandbox):
    """The CI quality gate: every unit runs the oracle, nop and determinism; cheats and garbage are dealt out."""
    rows = validate([task_id], seeds=[0, 1], workers=2, sandbox=sandbox, spread=True)
    tiers = {e.card.id: e.card.tiers for e in all_entries()}[task_id]
    assert {(r.tier, r.seed) for r in rows} == {(t, s) for t in tiers for s in (0, 1)}
    checks = {r.check for r in rows}
    assert {"oracle", "nop", "determinism", "garbage:random", "garbage:empty", "garbage:directory"} <= checks
    assert any(c.startswith("cheat:") for c in checks)
    failed = [r for r in rows if not r.passed]
    assert not failed, "\n" + format_rows(failed)
