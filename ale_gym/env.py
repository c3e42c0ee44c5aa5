"""AleEnv: the Gymnasium face of a task, composing a task with the computer it is worked on.

One episode = one workspace, one jail, one bash, one Python interpreter and (with `gui=True`) one
virtual desktop. Rewards are differences of the milestone potential, so the undiscounted return of an
episode equals its final score.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time
import warnings
from pathlib import Path
from collections.abc import Iterator, Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from ale_gym import actions as A
from ale_gym.runtime.jail import Jail
from ale_gym.runtime.python import PythonInterpreter
from ale_gym.runtime.shell import Shell
from ale_gym.runtime.terminal_frame import TerminalFrame
from ale_gym.runtime.text import cut_middle
from ale_gym.runtime.workspace import EpisodeDirs, list_files
from ale_gym.spaces import observation_space
from ale_gym.tasks.base import Cheat, CheckContext, GenContext, Instance
from ale_gym.tasks.milestones import MilestoneBook
from ale_gym.tasks.registry import get_entry, load_task

GUI_KINDS = {"move", "click", "drag", "scroll", "key", "type_text"}
SANDBOXES = ("bwrap", "none")


def resolve_package_paths(names: tuple[str, ...] | list[str]) -> list[Path]:
    """Folders of importable packages (or `package/subfolder`), found without importing them."""
    paths = []
    for name in names:
        module, _, sub = name.partition("/")
        spec = importlib.util.find_spec(module)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            folder = Path(list(spec.submodule_search_locations)[0])
        elif spec.origin:
            folder = Path(spec.origin)
        else:
            continue
        target = folder / sub if sub else folder
        if target.exists():
            paths.append(target)
    return paths


def make_jail(sandbox: str, workspace: Path, display: str | None, hide_paths: list[Path]) -> Jail:
    """The bubblewrap jail, or the unjailed runner when the user asked for sandbox='none'."""
    if sandbox == "none":
        from ale_gym.runtime.jail import NoJail

        return NoJail(workspace, display=display)
    from ale_gym.runtime.bwrap import make_jail as make_bwrap_jail

    return make_bwrap_jail(sandbox=sandbox, workspace=workspace, display=display, hide_paths=hide_paths)


class Timings(Mapping[str, Any]):
    """Seconds spent in each phase of a step: a read-only mapping in `info["timings"]`.

    Wall-clock figures are measurements, not environment state: two timings compare equal when they
    measured the same phases, so runs of the same seed and actions have equivalent infos (as
    Gymnasium's determinism checks require) while the figures stay available to read.
    """

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timings) and other._values.keys() == self._values.keys()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Timings({self._values!r})"


class AleEnv(gym.Env):
    """A professional workflow as a Gymnasium environment.

    Args:
        task_id: the registered id, e.g. "ALE/CNC-Toolpath-v0" (set by the registry).
        tier: "near-term", "full-spectrum" or "last-exam" (default: the card's first tier);
            `reset(options={"tier": ...})` switches it for one episode.
        gui: run a virtual desktop (default: the card's choice). Without it the screenshot is the
            terminal transcript drawn at the same size.
        sandbox: "bwrap" (default) jails everything the agent runs; "none" runs it on the host and
            warns at every reset.
        render_mode: "rgb_array" (the frame) or "ansi" (the terminal text).
        terminal_chars / files_chars: observation text budgets; longer text keeps head and tail.
        action_timeout: default time limit of a shell or Python action, in seconds.
        max_steps: the step budget (default: the card's, also registered as max_episode_steps). At
            the budget the env runs the final, submit-only checks and truncates; a shorter
            `make(..., max_episode_steps=N)` truncates from outside without them, so prefer this.
        time_limit_s: the wall-clock budget (default: the card's), judged the same way.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 2}

    def __init__(self, task_id: str, tier: str | None = None, gui: bool | None = None, sandbox: str = "bwrap",
                 render_mode: str | None = None, terminal_chars: int = 16_000, files_chars: int = 8_000,
                 instruction_chars: int = 32_000, action_timeout: float = 120.0, max_steps: int | None = None,
                 time_limit_s: float | None = None) -> None:
        entry = get_entry(task_id)
        self.card = entry.card
        self.task = load_task(entry)
        if tier is not None and tier not in self.card.tiers:
            raise ValueError(f"{task_id} has tiers {list(self.card.tiers)}, not {tier!r}")
        if sandbox not in SANDBOXES:
            raise ValueError(f"sandbox must be one of {SANDBOXES}, got {sandbox!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        if sandbox == "bwrap":
            from ale_gym.runtime.bwrap import bwrap_status

            usable, reason = bwrap_status()
            if not usable:
                raise RuntimeError(f"the bubblewrap sandbox cannot run here: {reason}. "
                                   "Pass sandbox='none' to run agent code unjailed on this machine (not recommended).")
        self.tier = tier or self.card.default_tier
        self.gui = self.card.gui if gui is None else bool(gui)
        self.sandbox = sandbox
        self.render_mode = render_mode
        self.terminal_chars = terminal_chars
        self.files_chars = files_chars
        self.action_timeout = float(action_timeout)
        self.max_steps = int(max_steps) if max_steps is not None else self.card.max_steps
        self.time_limit_s = float(time_limit_s) if time_limit_s is not None else self.card.time_limit_s
        if self.max_steps < 1 or self.time_limit_s <= 0:
            raise ValueError("max_steps and time_limit_s must be positive")
        width, height = self.card.resolution
        self.observation_space = observation_space(width, height, terminal_chars=terminal_chars,
                                                   files_chars=files_chars, instruction_chars=instruction_chars)
        self.action_space = A.ActionSpace(width, height, gui=self.gui)
        self._hide_paths = resolve_package_paths(self.card.extra.get("hide_packages", []))
        self._frame = TerminalFrame(width, height)
        self._dirs: EpisodeDirs | None = None
        self._jail: Jail | None = None
        self._shell: Shell | None = None
        self._python: PythonInterpreter | None = None
        self._desktop: Any = None
        self._book: MilestoneBook | None = None
        self._instance: Instance | None = None
        self._episode_tier = self.tier
        self._terminal = ""
        self._phi = 0.0
        self._steps = 0
        self._started = 0.0
        self._done = False
        self._last_info: dict[str, Any] = {}
        self._seed: int | None = None

    # -- episode lifecycle ----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        options = dict(options or {})
        tier = options.pop("tier", self.tier)
        if tier not in self.card.tiers:
            raise ValueError(f"{self.card.id} has tiers {list(self.card.tiers)}, not {tier!r}")
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; only 'tier' is accepted")
        self._end_episode()
        if self.sandbox == "none":
            warnings.warn("sandbox='none': agent code runs unjailed on this machine and can read hidden references",
                          RuntimeWarning, stacklevel=2)
        self._episode_tier = tier
        self._seed = int(seed) if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        timings: dict[str, float] = {}
        start = time.perf_counter()
        self._dirs = EpisodeDirs.create()
        try:
            gen_start = time.perf_counter()
            self._instance = self.task.generate(
                GenContext(self._dirs.workspace, self._dirs.hidden, self.task.data_dir, tier, self._seed),
                np.random.default_rng(self._seed),
            )
            timings["generate"] = time.perf_counter() - gen_start
            display = None
            if self.gui:
                from ale_gym.runtime.desktop import Desktop

                self._desktop = Desktop(*self.card.resolution)
                self._desktop.start()
                display = self._desktop.display
            self._jail = make_jail(self.sandbox, self._dirs.workspace, display, self._hide_paths)
            self._shell = Shell(self._jail)
            self._python = PythonInterpreter(self._jail)
            if self._desktop is not None:
                for app in self._instance.open_at_reset:
                    argv, env = self._jail.command(list(app.argv))
                    self._desktop.launch(argv, env, cwd=self._dirs.workspace)
                    self._desktop.wait_for_window(app.window_title)
        except BaseException:
            self._end_episode()
            raise
        specs = self.card.milestones_for(tier)
        self._book = MilestoneBook(specs, tier, self.task.checkers())
        self._phi = 0.0
        self._steps = 0
        self._done = False
        self._terminal = ""
        self._frame.clear()
        self._frame.append(f"{self.card.id} ({tier}, seed {self._seed}): workspace ready. Waiting for the first action.")
        self._started = time.monotonic()
        timings["reset"] = time.perf_counter() - start
        observation = self._observe()
        info = self._info(timings)
        return observation, info

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._book is None or self._dirs is None:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("the episode has ended; call reset()")
        action = A.validate(action)
        kind = A.kind_of(action)
        if kind in GUI_KINDS and self._desktop is None:
            raise ValueError(f"{kind} is a GUI action, but this episode has no desktop; make the env with gui=True")
        timings: dict[str, float] = {}
        start = time.perf_counter()
        exit_code: int | None = None
        if kind in ("shell", "python"):
            exit_code = self._run_code(kind, action)
        elif kind in GUI_KINDS:
            self._desktop.perform(action)
        elif kind == "wait":
            self._wait(float(np.asarray(action["timeout"])))
        timings["action"] = time.perf_counter() - start
        self._steps += 1
        submitted = kind == "submit"
        out_of_time = time.monotonic() - self._started >= self.time_limit_s
        out_of_steps = self._steps >= self.max_steps
        final = submitted or out_of_time or out_of_steps
        check_start = time.perf_counter()
        phi = self._book.evaluate(self._check_context(), final=final)
        timings["check"] = time.perf_counter() - check_start
        reward = phi - self._phi
        self._phi = phi
        terminated = submitted or self._book.full_pass
        truncated = not terminated and (out_of_time or out_of_steps)
        self._done = terminated or truncated
        observe_start = time.perf_counter()
        observation = self._observe()
        timings["observe"] = time.perf_counter() - observe_start
        info = self._info(timings, exit_code=exit_code)
        return observation, float(reward), terminated, truncated, info

    def _run_code(self, kind: str, action: A.Action) -> int | None:
        assert self._shell is not None and self._python is not None
        timeout = float(np.asarray(action["timeout"])) or self.action_timeout
        text = action["text"]
        if kind == "shell":
            result = self._shell.run(text, timeout)
            header = f"$ {text}"
        else:
            result = self._python.run(text, timeout)
            header = ">>> " + text.replace("\n", "\n... ")
        parts = [result.output.rstrip("\n")] if result.output else []
        if result.notice:
            parts.append(result.notice.strip())
        if result.exit_code not in (0, None):
            parts.append(f"[exit status {result.exit_code}]")
        self._terminal = cut_middle("\n".join(parts), self.terminal_chars)
        self._frame.append(header, command=True)
        if self._terminal:
            self._frame.append(self._terminal)
        return result.exit_code

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    # -- observation and info -------------------------------------------------------------------
    def _screen(self) -> np.ndarray:
        if self._desktop is not None:
            return self._desktop.screenshot()
        return self._frame.render().copy()

    def _observe(self) -> dict[str, Any]:
        assert self._dirs is not None and self._instance is not None
        return {
            "screenshot": self._screen(),
            "terminal": self._terminal,
            "files": list_files(self._dirs.workspace, self.files_chars),
            "instruction": cut_middle(self._instance.instruction, self.observation_space["instruction"].max_length),
        }

    def _check_context(self) -> CheckContext:
        assert self._dirs is not None and self._instance is not None and self._jail is not None
        return CheckContext(
            workspace=self._dirs.workspace,
            hidden=self._dirs.hidden,
            instance=self._instance,
            tier=self._episode_tier,
            data_dir=self.task.data_dir,
            runner=self._jail.run,
            window_lister=self._desktop.windows if self._desktop is not None else (lambda: []),
            scratch_root=self._dirs.scratch,
        )

    def _info(self, timings: dict[str, float], exit_code: int | None = None) -> dict[str, Any]:
        assert self._book is not None
        errors = self._book.errors
        info: dict[str, Any] = {
            "task_id": self.card.id,
            "tier": self._episode_tier,
            "seed": self._seed,
            "step": self._steps,
            "milestones": self._book.report(),
            "score": self._phi,
            "full_pass": self._book.full_pass,
            "status": "checker_error" if errors else "ok",
            "exit_code": exit_code,
            "timings": Timings({**{k: round(v, 6) for k, v in timings.items()}, "checkers": self._book.seconds()}),
        }
        if errors:
            info["checker_errors"] = errors
        if self._desktop is not None:
            info["windows"] = [dataclasses.asdict(w) for w in self._desktop.windows()]
        self._last_info = info
        return info

    def render(self) -> np.ndarray | str | None:
        if self.render_mode == "rgb_array":
            return self._screen() if self._dirs is not None else self._frame.render().copy()
        if self.render_mode == "ansi":
            return self._terminal
        return None

    # -- for validation, demos and notebooks -----------------------------------------------------
    @property
    def workspace(self) -> Path | None:
        """The host path of this episode's workspace (for notebooks and debugging)."""
        return self._dirs.workspace if self._dirs is not None else None

    def oracle_actions(self) -> list[A.Action]:
        """The task's scripted solution for the current episode."""
        if self._instance is None:
            raise RuntimeError("call reset() first")
        return self.task.oracle(self._instance, self._episode_tier)

    def cheat_list(self) -> list[Cheat]:
        """The task's plausible-but-wrong deliverables for the current episode, each naming its catcher."""
        if self._instance is None:
            raise RuntimeError("call reset() first")
        return self.task.cheats(self._instance, self._episode_tier)

    # -- teardown -------------------------------------------------------------------------------
    def _end_episode(self) -> None:
        for part in (self._shell, self._python):
            if part is not None:
                part.close()
        if self._desktop is not None:
            self._desktop.close()
        if self._jail is not None:
            self._jail.close()
        if self._dirs is not None:
            self._dirs.remove()
        self._shell = self._python = self._desktop = self._jail = self._dirs = None
        self._book = None

    def close(self) -> None:
        self._end_episode()
        super().close()

    def __del__(self) -> None:
        try:
            self._end_episode()
        except Exception:  # noqa: BLE001 - interpreter shutdown; nothing useful to report
            pass
