"""The quality gate every task must pass, automated: what an expert committee checks before accepting it.

For each (task, tier, seed), in one process:
- `oracle`: the scripted solution reaches full pass, with status "ok", and its return equals its score;
- `nop`: submitting at once scores 0;
- `determinism`: two resets of the same seed give byte-identical workspaces and instructions;
- `cheat:<name>`: each cheat misses full pass and fails the milestone it names (a task with no cheats
  fails the `cheats` check: every task must show what its checkers catch);
- `garbage:<kind>`: every deliverable of the card replaced by random bytes, an empty file or a directory,
  then submitted: no checker raises (status "ok").

Episodes run without a desktop unless their actions need one (an oracle that clicks gets a desktop);
`gui=True` forces one for every episode, `gui=False` forbids it. Determinism compares the workspaces
after every reset made in the same kind of env (an application opened at reset may write files).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym

from ale_gym import actions as A
from ale_gym.env import GUI_KINDS
from ale_gym.harness.episode import ensure_registered, quiet_unjailed, task_source, warn_unjailed
from ale_gym.harness.pool import run_jobs
from ale_gym.harness.summary import format_table
from ale_gym.tasks.registry import TaskEntry, get_entry

GARBAGE_KINDS = ("random", "empty", "directory")


@dataclass(frozen=True)
class CheckRow:
    task_id: str
    tier: str
    seed: int
    check: str
    passed: bool
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class ValidateJob:
    task_id: str
    tier: str
    seed: int
    gui: bool | None = None
    sandbox: str = "bwrap"
    task_source: tuple[str, str] | None = None
    share: tuple[int, int] | None = None  # (i, n): run only the i-th of every n cheats and garbage kinds


def workspace_digest(workspace: Path, instruction: str) -> str:
    """A hash of every path, file type and byte of the workspace, and of the instruction."""
    digest = hashlib.sha256(instruction.encode("utf-8", "surrogateescape"))
    for path in sorted(workspace.rglob("*")):
        relative = path.relative_to(workspace).as_posix()
        digest.update(b"\0" + relative.encode("utf-8", "surrogateescape") + b"\0")
        if path.is_symlink():
            digest.update(b"L" + str(path.readlink()).encode("utf-8", "surrogateescape"))
        elif path.is_dir():
            digest.update(b"D")
        elif path.is_file():
            digest.update(b"F" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def concrete_path(pattern: str) -> str:
    """A file name a deliverable pattern accepts: 'rtl_fixed/*.v' -> 'rtl_fixed/garbage.v'."""
    name = pattern.rstrip("/") + ("/garbage" if pattern.endswith("/") else "")
    name = re.sub(r"\[[^\]]*\]", "x", name)
    return name.replace("**", "garbage").replace("*", "garbage").replace("?", "x")


def garbage_code(paths: list[str], kind: str, seed: int) -> str:
    """Python, run as the agent, that replaces each deliverable with garbage of one kind."""
    return (
        "import os, random, shutil\n"
        f"rng = random.Random({seed})\n"
        f"for path in {paths!r}:\n"
        "    if os.path.isdir(path) and not os.path.islink(path):\n"
        "        shutil.rmtree(path)\n"
        "    elif os.path.lexists(path):\n"
        "        os.remove(path)\n"
        "    if os.path.dirname(path):\n"
        "        os.makedirs(os.path.dirname(path), exist_ok=True)\n"
        f"    if {kind!r} == 'directory':\n"
        "        os.makedirs(path)\n"
        "    else:\n"
        "        with open(path, 'wb') as out:\n"
        f"            out.write(rng.randbytes(rng.randint(1, 65536)) if {kind!r} == 'random' else b'')\n"
    )


def needs_desktop(actions: list[A.Action]) -> bool:
    return any(A.kind_of(a) in GUI_KINDS for a in actions)


class _Episodes:
    """Plays the validation episodes of one (task, tier, seed) on at most two envs: without a desktop and,
    when some actions need one, with it. Remembers the workspace digest after every reset, per env."""

    def __init__(self, job: ValidateJob) -> None:
        self.job = job
        self._envs: dict[bool, gym.Env] = {}
        self.digests: dict[bool, list[str]] = {False: [], True: []}

    def reset(self, actions: list[A.Action]) -> tuple[gym.Env, dict[str, Any]]:
        if self.job.gui is None:
            gui = needs_desktop(actions)
        else:
            gui = self.job.gui
            if not gui and needs_desktop(actions):
                raise RuntimeError("these actions need the desktop, but validation runs with gui=False")
        if gui not in self._envs:
            self._envs[gui] = gym.make(self.job.task_id, tier=self.job.tier, gui=gui, sandbox=self.job.sandbox)
        env = self._envs[gui]
        observation, info = env.reset(seed=self.job.seed)
        self.digests[gui].append(workspace_digest(env.unwrapped.workspace, observation["instruction"]))
        return env, info

    def play(self, actions: list[A.Action]) -> tuple[dict[str, Any], float, int]:
        """Reset, play the actions, submit unless they ended the episode; return the final info, return and steps."""
        env, info = self.reset(actions)
        total, steps = 0.0, 0
        for action in list(actions) + [A.submit()]:
            _, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            steps += 1
            if terminated or truncated:
                return info, total, steps
        raise RuntimeError("the episode did not end at submit")

    def close(self) -> None:
        for env in self._envs.values():
            env.close()


def _status_problem(info: dict[str, Any]) -> str:
    if info.get("status") == "ok":
        return ""
    errors = info.get("checker_errors") or {}
    first = next(iter(errors.items()), ("?", ""))
    return f"status {info.get('status')}: checker {first[0]} raised {first[1].strip().splitlines()[-1] if first[1] else ''}"


def validate_unit(job: ValidateJob) -> list[CheckRow]:
    """Every check of one (task, tier, seed); never raises (a crash is a failed row with its traceback tail)."""
    with quiet_unjailed(job.sandbox):
        return _validate_unit(job)


def _validate_unit(job: ValidateJob) -> list[CheckRow]:
    ensure_registered(job.task_id, job.task_source)
    entry = get_entry(job.task_id)
    rows: list[CheckRow] = []
    episodes = _Episodes(job)
    state: dict[str, Any] = {}

    def mine(index: int) -> bool:
        """With a share (i, n), this unit runs every n-th cheat and garbage kind, starting at i."""
        return job.share is None or index % job.share[1] == job.share[0]

    def check(name: str, body: Callable[[], tuple[bool, str]]) -> None:
        start = time.perf_counter()
        try:
            passed, detail = body()
        except Exception as exc:  # noqa: BLE001 - a crash fails this check and the next checks still run
            passed, detail = False, "raised " + "".join(traceback.format_exception(exc)[-3:]).strip().replace("\n", " | ")[-600:]
        rows.append(CheckRow(job.task_id, job.tier, job.seed, name, passed, round(time.perf_counter() - start, 3), detail))

    def nop() -> tuple[bool, str]:
        env, _ = episodes.reset([])
        state["oracle"] = env.unwrapped.oracle_actions()
        state["cheats"] = env.unwrapped.cheat_list()
        _, reward, terminated, _, info = env.step(A.submit())
        problem = _status_problem(info)
        passed = not problem and terminated and info["score"] == 0 and reward == 0
        return passed, problem or f"score {info['score']:.3f} after submitting at once"

    def oracle() -> tuple[bool, str]:
        info, total, steps = episodes.play(state["oracle"])
        problem = _status_problem(info)
        failing = [mid for mid, m in info["milestones"].items() if not m["passed"]]
        telescopes = math.isclose(total, info["score"], abs_tol=1e-6)
        passed = not problem and info["full_pass"] and telescopes
        detail = problem or (f"full pass in {steps} steps" if info["full_pass"] else
                             f"score {info['score']:.3f}; failing: " + "; ".join(
                                 f"{mid}: {info['milestones'][mid]['detail'] or 'failed'}" for mid in failing)[:600])
        if not telescopes:
            detail += f"; return {total:.6f} differs from the score {info['score']:.6f}"
        return passed, detail

    def cheat(item: Any) -> Callable[[], tuple[bool, str]]:
        def body() -> tuple[bool, str]:
            info, _, steps = episodes.play(item.actions)
            problem = _status_problem(info)
            if problem:
                return False, problem
            if item.catches not in info["milestones"]:
                return False, f"names milestone {item.catches!r}, which tier {job.tier} does not score"
            caught = info["milestones"][item.catches]["passed"] is False
            if info["full_pass"] and steps <= len(item.actions):
                return False, (f"full pass after {steps} of its {len(item.actions)} actions: the episode ended "
                               "before the cheat was complete")
            detail = (f"{item.catches} fails: {info['milestones'][item.catches]['detail']}" if caught
                      else f"{item.catches} passes: the cheat is not caught")
            return caught and not info["full_pass"], f"score {info['score']:.3f}; {detail}"[:600]
        return body

    def garbage(kind: str) -> Callable[[], tuple[bool, str]]:
        def body() -> tuple[bool, str]:
            paths = sorted({concrete_path(p) for p in entry.card.deliverables})
            info, _, _ = episodes.play([A.python(garbage_code(paths, kind, job.seed))])
            problem = _status_problem(info)
            return not problem, problem or f"{len(paths)} deliverables as {kind}: score {info['score']:.3f}, no checker raised"
        return body

    def determinism() -> tuple[bool, str]:
        if len(episodes.digests[False]) < 2:
            episodes.reset([])
        runs = [d for d in episodes.digests.values() if len(d) >= 2]
        same = all(len(set(d)) == 1 for d in runs)
        resets = sum(len(d) for d in runs)
        return same, (f"{resets} resets gave identical workspaces and instructions" if same
                      else "resets of the same seed gave different workspaces or instructions")

    try:
        check("nop", nop)
        if "oracle" not in state:
            return rows
        check("oracle", oracle)
        if not state["cheats"]:
            rows.append(CheckRow(job.task_id, job.tier, job.seed, "cheats", False, 0.0, "the task declares no cheats"))
        for index, item in enumerate(state["cheats"]):
            if mine(index):
                check(f"cheat:{item.name}", cheat(item))
        for index, kind in enumerate(GARBAGE_KINDS):
            if mine(len(state["cheats"]) + index):
                check(f"garbage:{kind}", garbage(kind))
        check("determinism", determinism)
    finally:
        episodes.close()
    return rows


def validate(task_ids: list[str], tiers: list[str] | None = None, seeds: list[int] | None = None, workers: int = 1,
             gui: bool | None = None, sandbox: str = "bwrap", spread: bool = False,
             on_rows: Callable[[list[CheckRow]], None] | None = None) -> list[CheckRow]:
    """Run the checks on every (task, tier, seed), `workers` units at a time; rows in a stable order.

    With `spread`, each task's cheats and garbage kinds are dealt out over its units instead of run on
    every one: each is still exercised (once per task), while the oracle, nop and determinism checks run
    on every unit. This is the budget a CI run over every task can afford.
    """
    seeds = [0, 1] if seeds is None else list(seeds)
    warn_unjailed(sandbox)
    jobs: list[ValidateJob] = []
    for task_id in task_ids:
        entry: TaskEntry = get_entry(task_id)
        units = [(tier, seed) for tier in entry.card.tiers if tiers is None or tier in tiers for seed in seeds]
        for index, (tier, seed) in enumerate(units):
            share = (index, len(units)) if spread else None
            jobs.append(ValidateJob(task_id, tier, int(seed), gui, sandbox, task_source(task_id), share))
    order = {(j.task_id, j.tier, j.seed): i for i, j in enumerate(jobs)}
    rows: list[CheckRow] = []
    for job, result, error in run_jobs(validate_unit, jobs, workers=workers, retries=1,
                                       key=lambda j: (j.task_id, j.tier, j.seed)):
        unit = result if result is not None else [CheckRow(job.task_id, job.tier, job.seed, "run", False, 0.0,
                                                           f"the validation process failed: {error}")]
        if on_rows is not None:
            on_rows(unit)
        rows.extend(unit)
    return sorted(rows, key=lambda r: order[(r.task_id, r.tier, r.seed)])


def format_rows(rows: list[CheckRow], details: bool = True) -> str:
    header = ("task", "tier", "seed", "check", "result", "seconds") + (("detail",) if details else ())
    body = [(r.task_id, r.tier, r.seed, r.check, "pass" if r.passed else "FAIL", f"{r.seconds:.1f}")
            + ((r.detail,) if details else ()) for r in rows]
    return format_table(header, body)
