"""Core step and reset latency against raw baselines measured in the same run.

    python benchmarks/bench_core.py [--repeats 200] [--sandbox bwrap|none]

Rows: a shell step running `true` through the env (action, checks, observation) against a raw pexpect
round trip to a bash; a Python step running `pass` against a raw pipe round trip to a python process;
reset with gui=False excluding the task's generator. Prints a table of medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import pexpect

os.environ.setdefault("ALE_GYM_TASK_PATH", str(Path(__file__).resolve().parent.parent / "tests" / "task_pack"))

import ale_gym  # noqa: E402,F401
from ale_gym import actions as A  # noqa: E402

TASK = "ALE/Word-Stats-v0"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def raw_pexpect_round_trip(repeats: int) -> list[float]:
    child = pexpect.spawn("bash", ["--norc", "--noprofile", "--noediting"], echo=False, encoding=None)
    child.delaybeforesend = None
    child.sendline("PS1=; stty -echo")
    child.sendline("echo READY")
    child.expect(b"READY")
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        child.sendline("true; echo __DONE__$?")
        child.expect(b"__DONE__0")
        samples.append(time.perf_counter() - start)
    child.close(force=True)
    return samples


def raw_python_round_trip(repeats: int) -> list[float]:
    code = "import sys\nfor line in sys.stdin:\n    exec(line)\n    sys.stdout.write('ok\\n'); sys.stdout.flush()\n"
    process = subprocess.Popen([sys.executable, "-u", "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin and process.stdout
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        process.stdin.write(b"pass\n")
        process.stdin.flush()
        process.stdout.readline()
        samples.append(time.perf_counter() - start)
    process.kill()
    process.wait()
    return samples


def env_steps(env: gym.Env, action: dict, repeats: int) -> tuple[list[float], list[float]]:
    total, action_only = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        _, _, _, _, info = env.step(action)
        total.append(time.perf_counter() - start)
        action_only.append(info["timings"]["action"])
    return total, action_only


def resets(env: gym.Env, repeats: int) -> tuple[list[float], list[float]]:
    """reset() without the generator; and reset plus the first shell step, which starts the jailed bash."""
    bare, ready = [], []
    for seed in range(repeats):
        start = time.perf_counter()
        _, info = env.reset(seed=seed)
        env.step(A.shell("true"))
        ready.append(time.perf_counter() - start - info["timings"]["generate"])
        bare.append(info["timings"]["reset"] - info["timings"]["generate"])
    return bare, ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--sandbox", default="bwrap")
    args = parser.parse_args()
    env = gym.make(TASK, sandbox=args.sandbox, max_steps=10**6)
    env.reset(seed=0)
    env.step(A.shell("true"))
    env.step(A.python("pass"))
    shell_total, shell_action = env_steps(env, A.shell("true"), args.repeats)
    python_total, python_action = env_steps(env, A.python("pass"), args.repeats)
    raw_shell = raw_pexpect_round_trip(args.repeats)
    raw_python = raw_python_round_trip(args.repeats)
    reset_samples, ready_samples = resets(env, max(10, args.repeats // 10))
    env.close()
    rows = [
        ("shell step `true` (env.step)", median_ms(shell_total), median_ms(raw_shell)),
        ("shell action alone", median_ms(shell_action), median_ms(raw_shell)),
        ("python step `pass` (env.step)", median_ms(python_total), median_ms(raw_python)),
        ("python action alone", median_ms(python_action), median_ms(raw_python)),
        ("reset gui=False, excl. generator", median_ms(reset_samples), float("nan")),
        ("reset + first shell step, excl. gen.", median_ms(ready_samples), float("nan")),
    ]
    print(f"sandbox={args.sandbox}  repeats={args.repeats}")
    print(f"{'measure':36s} {'median ms':>10s} {'raw ms':>8s} {'diff ms':>8s}")
    for name, value, raw in rows:
        print(f"{name:36s} {value:10.3f} {raw:8.3f} {value - raw:8.3f}")


if __name__ == "__main__":
    main()
