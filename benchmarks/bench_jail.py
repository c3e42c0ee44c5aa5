"""The jail's overhead: reset, first and later shell steps, and a checker's run, with and without bubblewrap.

Both sides are measured in the same run on the same task, so the numbers compare like with like:

    python benchmarks/bench_jail.py [--task ALE/Word-Stats-v0] [--rounds 20]

(The task must be registered; the core's test task lives in tests/task_pack, on ALE_GYM_TASK_PATH.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from collections.abc import Callable

TESTS_TASK_PACK = Path(__file__).resolve().parent.parent / "tests" / "task_pack"
if TESTS_TASK_PACK.is_dir() and str(TESTS_TASK_PACK) not in os.environ.get("ALE_GYM_TASK_PATH", ""):
    os.environ["ALE_GYM_TASK_PATH"] = os.pathsep.join(p for p in (str(TESTS_TASK_PACK), os.environ.get("ALE_GYM_TASK_PATH")) if p)

import gymnasium as gym  # noqa: E402

import ale_gym  # noqa: E402,F401  - registers the tasks
from ale_gym import actions as A  # noqa: E402
from ale_gym.runtime.bwrap import BwrapJail, bwrap_status  # noqa: E402
from ale_gym.runtime.jail import NoJail  # noqa: E402


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure_env(task: str, sandbox: str, rounds: int) -> dict[str, list[float]]:
    """Per round: a reset, the first shell step (it starts the jailed bash) and a later shell step."""
    samples: dict[str, list[float]] = {"reset": [], "first shell step": [], "shell step": [], "python step": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # sandbox="none" warns at every reset, by design
        with gym.make(task, sandbox=sandbox) as env:
            env.reset(seed=0)  # warm imports and caches outside the timings
            env.step(A.shell("true"))
            for round_ in range(rounds):
                samples["reset"].append(timed(lambda seed=round_: env.reset(seed=seed)))
                samples["first shell step"].append(timed(lambda: env.step(A.shell("true"))))
                samples["shell step"].append(timed(lambda: env.step(A.shell("echo step"))))
                samples["python step"].append(timed(lambda: env.step(A.python("1 + 1"))))
    return samples


def measure_runs(rounds: int) -> dict[str, list[float]]:
    """A checker's run of a short program (`true`, then `python3 -c pass`) through each jail."""
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        for name, jail in (("none", NoJail(workspace)), ("bwrap", BwrapJail(workspace))):
            try:
                for label, argv in (("run true", ["true"]), ("run python3", ["python3", "-c", "pass"])):
                    samples[f"{label}|{name}"] = [
                        timed(lambda j=jail, a=argv: j.run(a, cwd=workspace, timeout=60)) for _ in range(rounds)]
            finally:
                jail.close()
    return samples


def summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="ALE/Word-Stats-v0")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    usable, reason = bwrap_status()
    if not usable:
        raise SystemExit(f"bubblewrap cannot run here: {reason}")
    plain = measure_env(args.task, "none", args.rounds)
    jailed = measure_env(args.task, "bwrap", args.rounds)
    runs = measure_runs(args.rounds)
    rows = [(name, plain[name], jailed[name]) for name in plain]
    rows += [(label, runs[f"{label}|none"], runs[f"{label}|bwrap"]) for label in ("run true", "run python3")]
    print(f"{args.task}, {args.rounds} rounds, times in ms (median / p90)")
    print(f"{'operation':<18} {'no jail':>17} {'bwrap':>17} {'overhead':>10}")
    for name, without, with_jail in rows:
        (m0, p0), (m1, p1) = summary(without), summary(with_jail)
        print(f"{name:<18} {m0 * 1e3:>8.1f} / {p0 * 1e3:>6.1f} {m1 * 1e3:>8.1f} / {p1 * 1e3:>6.1f} {(m1 - m0) * 1e3:>+9.1f}")


if __name__ == "__main__":
    main()
