"""One episode of one agent on one (task, tier, seed): the unit of work of `play` and `eval`.

`run_episode` never raises for a failing agent or task: the record's `status` says what happened.
"ok" and "checker_error" are the env's own statuses; "agent_error" means the agent raised or produced an
invalid action (the episode stops there and keeps its score: the agent failed it); "error" means the
harness or the environment itself broke (making the env, reset, a step that crashed), which `eval`
retries on its next run.
"""

from __future__ import annotations

import contextlib
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import gymnasium as gym

from ale_gym import actions as A
from ale_gym.harness.agents import attach, load_agent
from ale_gym.harness.jsonsafe import jsonable
from ale_gym.harness.recorder import TrajectoryRecorder, describe_action
from ale_gym.tasks.registry import all_entries, get_entry, register_folder

FINISHED_STATUSES = ("ok", "checker_error", "agent_error")


@dataclass(frozen=True)
class EpisodeJob:
    """Everything a worker process needs to run one episode (picklable)."""

    task_id: str
    tier: str
    seed: int
    agent: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    record_dir: str | None = None
    task_source: tuple[str, str] | None = None  # (folder, data root): see `ensure_registered`

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.task_id, self.tier, self.seed)


def task_source(task_id: str) -> tuple[str, str]:
    """Where a registered task lives: its folder and its data root."""
    entry = get_entry(task_id)
    return (str(entry.folder), str(entry.data_dir.parent))


def ensure_registered(task_id: str, source: tuple[str, str] | None) -> None:
    """Register a task in a fresh worker when the driver registered it by hand (`register_folder`)."""
    if source is None or task_id in {e.card.id for e in all_entries()}:
        return
    register_folder(Path(source[0]), Path(source[1]))


def warn_unjailed(sandbox: str | None) -> None:
    """Warn once per run (the env itself warns at every reset, which drowns a batch of episodes)."""
    if sandbox == "none":
        warnings.warn("sandbox='none': agent code runs unjailed on this machine and can read hidden references",
                      RuntimeWarning, stacklevel=3)


@contextlib.contextmanager
def quiet_unjailed(sandbox: str | None) -> Iterator[None]:
    """Silence the env's per-reset unjailed warning inside a batch worker; the driver warned once."""
    with warnings.catch_warnings():
        if sandbox == "none":
            warnings.filterwarnings("ignore", message="sandbox='none'", category=RuntimeWarning)
        yield


def episode_name(task_id: str, tier: str, seed: int) -> str:
    """A file-system-safe name for one (task, tier, seed), used for trajectory folders."""
    return f"{task_id.replace('/', '_')}_{tier}_seed{seed}"


def _error_text(exc: BaseException) -> str:
    lines = traceback.format_exception(exc)
    return "".join(lines[-6:]).strip()[-2000:]


def run_episode(job: EpisodeJob, on_step: Callable[[int, A.Action | Any, float, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Play one episode and return its JSON record (see `ale_gym.harness.store` for the fields)."""
    started = time.perf_counter()
    record: dict[str, Any] = {"task_id": job.task_id, "tier": job.tier, "seed": job.seed, "agent": job.agent,
                              "score": 0.0, "full_pass": False, "milestones": {}, "steps": 0, "return": 0.0,
                              "terminated": False, "truncated": False, "status": "error"}
    env: gym.Env | None = None
    info: dict[str, Any] = {}
    try:
        ensure_registered(job.task_id, job.task_source)
        card = get_entry(job.task_id).card
        record.update({"name": card.name, "cluster": card.cluster, "subfield": card.subfield})
        env = gym.make(job.task_id, tier=job.tier, **job.env_kwargs)
        if job.record_dir is not None:
            name = episode_name(job.task_id, job.tier, job.seed)
            env = TrajectoryRecorder(env, job.record_dir, episode_name=lambda _info: name)
            record["trajectory"] = name
        agent = load_agent(job.agent)
        attach(agent, env)
        observation, info = env.reset(seed=job.seed)
        agent.reset(observation["instruction"], info)
        terminated = truncated = False
        status = None
        while not (terminated or truncated):
            try:
                action = A.validate(agent.act(observation, info))
            except Exception as exc:  # noqa: BLE001 - the agent's fault is the episode's result
                status = "agent_error"
                record["error"] = _error_text(exc)
                break
            observation, reward, terminated, truncated, info = env.step(action)
            record["steps"] += 1
            record["return"] += float(reward)
            if on_step is not None:
                on_step(record["steps"], action, float(reward), info)
        record.update({"terminated": bool(terminated), "truncated": bool(truncated)})
        record["status"] = status or info.get("status", "ok")
        if info.get("checker_errors"):
            record["checker_errors"] = info["checker_errors"]
    except Exception as exc:  # noqa: BLE001 - one broken episode must not stop a benchmark run
        record["status"] = "error"
        record["error"] = _error_text(exc)
    finally:
        if env is not None:
            try:
                env.close()
            except Exception as exc:  # noqa: BLE001 - teardown problems are reported, not raised
                record.setdefault("error", _error_text(exc))
    if info:
        record["score"] = float(info.get("score", 0.0))
        record["full_pass"] = bool(info.get("full_pass", False))
        record["milestones"] = {mid: {"passed": bool(m.get("passed")), "weight": m.get("weight"), "detail": m.get("detail")}
                                for mid, m in (info.get("milestones") or {}).items()}
    record["seconds"] = round(time.perf_counter() - started, 3)
    return jsonable(record)


def run_episode_job(job: EpisodeJob) -> dict[str, Any]:
    """The worker entry point (module level, so process pools and Ray can ship it by name)."""
    with quiet_unjailed(job.env_kwargs.get("sandbox")):
        return run_episode(job)


__all__ = ["EpisodeJob", "FINISHED_STATUSES", "describe_action", "episode_name", "run_episode", "run_episode_job"]
