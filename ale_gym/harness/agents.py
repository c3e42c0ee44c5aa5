"""The agent protocol and the built-in agents.

An agent is any object with `reset(instruction, info)` and `act(observation, info) -> action`, where
`action` is built with `ale_gym.actions` (or parsed from text with `actions.parse`). An agent that
needs the environment itself (the oracle reads the episode's scripted solution, the random agent samples
the action space) may also define `attach(env)`, which the runner calls once after making the env.

Built in: `nop` submits at once, `random` takes a few harmless sampled actions then submits, `oracle`
plays the task's scripted solution. Anything else loads from `package.module:Class` or
`path/to/file.py:Class` and is constructed without arguments.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym

from ale_gym import actions as A
from ale_gym.tasks.registry import import_file


@runtime_checkable
class Agent(Protocol):
    """What the runner needs from an agent."""

    def reset(self, instruction: str, info: dict[str, Any]) -> None: ...

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> A.Action: ...


class NopAgent:
    """Does nothing and submits: the baseline every task must score 0 against."""

    def reset(self, instruction: str, info: dict[str, Any]) -> None:
        pass

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> A.Action:
        return A.submit()


class RandomAgent:
    """Samples harmless actions from the env's action space, then submits.

    The samples are seeded from the episode seed, so an episode replays exactly.
    """

    def __init__(self, steps: int = 3) -> None:
        self.steps = steps
        self._env: gym.Env | None = None
        self._taken = 0

    def attach(self, env: gym.Env) -> None:
        self._env = env

    def reset(self, instruction: str, info: dict[str, Any]) -> None:
        if self._env is None:
            raise RuntimeError("the random agent samples the env's action space: call attach(env) first")
        self._taken = 0
        self._env.action_space.seed(int(info.get("seed") or 0))

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> A.Action:
        assert self._env is not None
        self._taken += 1
        if self._taken > self.steps:
            return A.submit()
        return self._env.action_space.sample()


class OracleAgent:
    """Plays the task's scripted solution for the current instance, then submits."""

    def __init__(self) -> None:
        self._env: gym.Env | None = None
        self._plan: list[A.Action] = []

    def attach(self, env: gym.Env) -> None:
        self._env = env

    def reset(self, instruction: str, info: dict[str, Any]) -> None:
        if self._env is None:
            raise RuntimeError("the oracle reads the episode's solution from the env: call attach(env) first")
        self._plan = list(self._env.unwrapped.oracle_actions())

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> A.Action:
        return self._plan.pop(0) if self._plan else A.submit()


BUILTIN: dict[str, type] = {"nop": NopAgent, "random": RandomAgent, "oracle": OracleAgent}


def _load_class(spec: str) -> type:
    location, _, name = spec.rpartition(":")
    if not location or not name:
        raise ValueError(f"agent {spec!r}: use one of {sorted(BUILTIN)}, 'package.module:Class' or 'file.py:Class'")
    if location.endswith(".py"):
        path = Path(location).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"agent {spec!r}: no file {path}")
        module_name = f"ale_gym_agent_{path.stem}_{abs(hash(str(path))):x}"
        module = import_file(path, module_name)
    else:
        try:
            module = importlib.import_module(location)
        except ImportError as exc:
            raise ValueError(f"agent {spec!r}: cannot import {location}: {exc}") from None
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        raise ValueError(f"agent {spec!r}: {location} has no class {name}")
    return cls


def agent_class(spec: str) -> type:
    """The class an agent name refers to (raises ValueError naming the problem), without building it."""
    return BUILTIN.get(spec) or _load_class(spec)


def load_agent(spec: str) -> Agent:
    """Build an agent from its name on the command line."""
    agent = agent_class(spec)()
    missing = [m for m in ("reset", "act") if not callable(getattr(agent, m, None))]
    if missing:
        raise ValueError(f"agent {spec!r} does not implement {missing} (see ale_gym.harness.agents.Agent)")
    return agent


def attach(agent: Agent, env: gym.Env) -> None:
    """Give the agent the env when it asks for it."""
    hook = getattr(agent, "attach", None)
    if callable(hook):
        hook(env)
