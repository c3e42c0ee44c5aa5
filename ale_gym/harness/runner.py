"""Running an agent over many (task, tier, seed) episodes, locally or on a Ray cluster.

The driver plans the episodes, skips those already stored (a rerun resumes), hands the rest to a
backend, and writes each result itself as it arrives: workers only compute. That is what makes retries
safe: Ray may run an episode again after its worker died, but a key is written once.

Backends:
- "local" (default): a pool of fresh worker processes on this machine (`ale_gym.harness.pool`).
- "ray": each episode is a Ray task (`max_retries` covers workers that die), on the cluster at
  `address` or, without one, on a local Ray started with `num_cpus=workers`. Ray is the optional
  extra `ale-gym[ray]`. On a multi-node cluster, pass a record folder that every node can write.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Any, Callable, Iterator

from ale_gym.harness.agents import agent_class
from ale_gym.harness.episode import EpisodeJob, run_episode_job, warn_unjailed
from ale_gym.harness.pool import run_jobs
from ale_gym.harness.store import ResultStore
from ale_gym.harness.summary import summarize
from ale_gym.tasks.registry import TASK_PATH_VARIABLE, TaskEntry, all_entries

BACKENDS = ("local", "ray")
TRAJECTORIES = "trajectories"


def select_tasks(patterns: str | list[str] | None) -> list[TaskEntry]:
    """Tasks whose id, name or folder matches any of the shell-style patterns (comma-separated)."""
    if patterns is None:
        return all_entries()
    if isinstance(patterns, str):
        patterns = [p.strip() for p in patterns.split(",") if p.strip()]
    chosen = []
    for entry in all_entries():
        names = (entry.card.id, entry.card.name, entry.card.slug, f"{entry.card.name}-v{entry.card.version}")
        if any(fnmatch.fnmatchcase(n.lower(), p.lower()) for p in patterns for n in names):
            chosen.append(entry)
    return chosen


def plan(entries: list[TaskEntry], tiers: list[str] | None, seeds: list[int], agent: str,
         env_kwargs: dict[str, Any], record_dir: Path | None) -> list[EpisodeJob]:
    """Every (task, tier, seed) to run; a task is run on the requested tiers it supports."""
    jobs = []
    for entry in entries:
        for tier in entry.card.tiers:
            if tiers is not None and tier not in tiers:
                continue
            for seed in seeds:
                jobs.append(EpisodeJob(entry.card.id, tier, int(seed), agent, dict(env_kwargs),
                                       str(record_dir) if record_dir is not None else None,
                                       (str(entry.folder), str(entry.data_dir.parent))))
    return jobs


def _job_key(job: EpisodeJob) -> tuple[str, str, int]:
    return job.key


def run_local(jobs: list[EpisodeJob], workers: int, retries: int) -> Iterator[tuple[EpisodeJob, dict[str, Any] | None, BaseException | None]]:
    yield from run_jobs(run_episode_job, jobs, workers=workers, retries=retries, key=_job_key)


def run_ray(jobs: list[EpisodeJob], workers: int, retries: int, address: str | None) -> Iterator[tuple[EpisodeJob, dict[str, Any] | None, BaseException | None]]:
    try:
        import ray
    except ImportError:
        raise RuntimeError("the ray backend needs Ray: pip install 'ale-gym[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        env_vars = {TASK_PATH_VARIABLE: os.environ[TASK_PATH_VARIABLE]} if os.environ.get(TASK_PATH_VARIABLE) else {}
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "WARNING"}
        if env_vars:
            options["runtime_env"] = {"env_vars": env_vars}
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=max(1, workers), **options)
    try:
        remote = ray.remote(num_cpus=1, max_retries=retries, retry_exceptions=False)(run_episode_job)
        pending = {remote.remote(job): job for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                try:
                    yield job, ray.get(ref), None
                except Exception as exc:  # noqa: BLE001 - a task that failed every retry
                    yield job, None, exc
    finally:
        if started_here:
            ray.shutdown()


def failed_record(job: EpisodeJob, error: BaseException) -> dict[str, Any]:
    """The record of an episode whose worker never returned (it will be retried on the next run)."""
    return {"task_id": job.task_id, "tier": job.tier, "seed": job.seed, "agent": job.agent, "score": 0.0,
            "full_pass": False, "milestones": {}, "steps": 0, "return": 0.0, "terminated": False,
            "truncated": False, "status": "error", "error": f"{type(error).__name__}: {error}"[:2000], "seconds": 0.0}


def evaluate(agent: str, out: str | Path, tasks: str | list[str] | None = None, tiers: list[str] | None = None,
             seeds: list[int] | None = None, workers: int = 1, backend: str = "local", address: str | None = None,
             env_kwargs: dict[str, Any] | None = None, record: bool = True, retries: int = 2,
             progress: bool | None = None, on_record: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run `agent` on every selected episode not already in `out`; return the summary of the whole run."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    agent_class(agent)  # a misspelt agent fails here, not once per episode in the workers
    entries = select_tasks(tasks)
    if not entries:
        raise ValueError(f"no task matches {tasks!r}")
    seeds = list(range(1)) if seeds is None else list(seeds)
    env_kwargs = dict(env_kwargs or {})
    out = Path(out)
    store = ResultStore(out, settings={"agent": agent, "env_kwargs": env_kwargs})
    record_dir = (out / TRAJECTORIES) if record else None
    jobs = [job for job in plan(entries, tiers, seeds, agent, env_kwargs, record_dir) if job.key not in store]
    if jobs:
        from tqdm import tqdm

        warn_unjailed(env_kwargs.get("sandbox"))
        results = run_ray(jobs, workers, retries, address) if backend == "ray" else run_local(jobs, workers, retries)
        with tqdm(total=len(jobs), desc=f"{agent} episodes", unit="ep", disable=None if progress is None else not progress) as bar:
            for job, result, error in results:
                record_ = result if result is not None else failed_record(job, error or RuntimeError("no result"))
                if store.add(record_) and on_record is not None:
                    on_record(record_)
                bar.set_postfix_str(f"{job.task_id} {job.tier} s{job.seed}: {record_['status']} {record_['score']:.2f}")
                bar.update(1)
    summary = summarize(store.records())
    store.write_summary(summary)
    return summary
