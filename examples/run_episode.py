"""Play one episode of a task with its oracle, printing each step's reward and milestone progress.

    python examples/run_episode.py [TASK_ID] [--tier TIER] [--seed SEED] [--gui | --no-gui]

This is what an agent loop looks like: reset, then act on observations until terminated or truncated.
Here the "agent" is the task's own scripted solution, read from the task like any other action list.
"""

from __future__ import annotations

import argparse
import sys

import gymnasium as gym

import ale_gym
from ale_gym import actions as A

DEFAULT_TASK = "ALE/CNC-Toolpath-v0"


def progress(info: dict) -> str:
    return " ".join(("+" if m["passed"] else "-") + name for name, m in info["milestones"].items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", nargs="?", default=DEFAULT_TASK)
    parser.add_argument("--tier", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gui", action=argparse.BooleanOptionalAction, default=None,
                        help="run the episode's virtual desktop (default: the task card's choice)")
    args = parser.parse_args(argv)

    env = gym.make(args.task, tier=args.tier, gui=args.gui)
    observation, info = env.reset(seed=args.seed)
    print(f"{args.task}  tier={info['tier']}  seed={info['seed']}  desktop={env.unwrapped.gui}")
    if "windows" in info:
        print("windows:", ", ".join(w["title"] for w in info["windows"]) or "none")
    print("instruction:", observation["instruction"].splitlines()[0])
    print("workspace:", ", ".join(line.split("\t")[0] for line in observation["files"].splitlines()))
    oracle = env.unwrapped.oracle_actions()
    total = 0.0
    for step, action in enumerate(oracle, start=1):
        observation, reward, terminated, truncated, info = env.step(action)
        total += reward
        summary = A.describe(action).splitlines()[0][:70]
        print(f"step {step:2d}  reward {reward:+.3f}  score {info['score']:.3f}  [{progress(info)}]  {summary}")
        if info["status"] != "ok":
            print("checker error:", info.get("checker_errors"))
        if terminated or truncated:
            break
    env.close()
    print(f"return {total:.3f}  final score {info['score']:.3f}  full pass {info['full_pass']}")
    return 0 if info["full_pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
