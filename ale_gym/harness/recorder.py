"""A Gymnasium wrapper that records trajectories to disk, for any training loop, not only the CLI.

Layout: one folder per episode inside `directory` (named `episode-000000`, `episode-000001`, ... unless
an `episode_name(info)` callable is given), holding

- `steps.jsonl`: one JSON object per line, in order:
  - `{"type": "reset", "episode", "task_id", "tier", "seed", "instruction", "files", "frame",
    "frame_changed": true, "info"}`: the start of the episode (`info` is the reset info);
  - one `{"type": "step", "step", "action", "reward", "return", "terminated", "truncated", "score",
    "full_pass", "status", "milestones", "exit_code", "terminal", "frame", "frame_changed", "seconds"}`
    per step: `action` is the text form of `ale_gym.actions.describe` (readable back with `parse`),
    `return` the sum of rewards so far, `milestones` maps each id to `{"passed", "checker_passed",
    "detail"}`, `terminal` an excerpt (head and tail) of what the action printed, `frame` the PNG
    showing the screen after the step and `frame_changed` whether that PNG was written at this step,
    `seconds` the wall time of the step;
  - `{"type": "end", "reason", "steps", "return", "info"}` once the episode ends (`reason` is
    "terminated", "truncated", or "reset"/"close" when the loop abandoned it), with the full final info.
- `frame-NNNNNN.png`: the screenshot, written only when it differs from the previous one (compared by
  hash), numbered by the step that produced it (0 = after reset).

Every value is plain JSON (numpy scalars converted, non-finite numbers as null). Lines are flushed as
they are written, so a crashed run keeps everything up to its last step.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any, Callable, TextIO

import gymnasium as gym
import numpy as np
from PIL import Image

from ale_gym import actions as A
from ale_gym.harness.jsonsafe import jsonable
from ale_gym.runtime.text import cut_middle

STEPS_FILE = "steps.jsonl"
_EPISODE = re.compile(r"^episode-(\d+)$")


def describe_action(action: Any) -> str:
    """The action as text, or its repr when it is not an ale_gym action."""
    try:
        return A.describe(A.validate(action))
    except (ValueError, KeyError, TypeError, IndexError):
        return repr(action)


def read_trajectory(folder: Path) -> list[dict[str, Any]]:
    """The records of one recorded episode; a torn last line (a crashed run) is skipped."""
    records = []
    path = Path(folder) / STEPS_FILE
    if not path.is_file():
        return records
    for line in path.read_text("utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class TrajectoryRecorder(gym.Wrapper):
    """Records every episode of the wrapped env (see the module docstring for the format).

    Args:
        env: any env whose observation holds a `screenshot` image (ale_gym envs do); other envs are
            recorded without frames.
        directory: where the episode folders go (created if needed).
        episode_name: maps the reset info to a folder name; an existing folder of that name is
            replaced, so a rerun of the same episode does not mix two trajectories.
        terminal_chars: the size of the terminal excerpt kept per step.
    """

    def __init__(self, env: gym.Env, directory: str | Path, episode_name: Callable[[dict[str, Any]], str] | None = None,
                 terminal_chars: int = 2000) -> None:
        super().__init__(env)
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.episode_name = episode_name
        self.terminal_chars = terminal_chars
        self.episode_dir: Path | None = None
        self._handle: TextIO | None = None
        self._frame_hash: str | None = None
        self._frame_name: str | None = None
        self._steps = 0
        self._return = 0.0
        self._last_info: dict[str, Any] = {}

    # -- the wrapper API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        self._finish("reset")
        observation, info = self.env.reset(seed=seed, options=options)
        self._open(info)
        self._steps, self._return, self._last_info = 0, 0.0, info
        frame, changed = self._save_frame(observation)
        self._write({
            "type": "reset",
            "episode": self.episode_dir.name if self.episode_dir else None,
            "task_id": info.get("task_id"),
            "tier": info.get("tier"),
            "seed": info.get("seed"),
            "instruction": observation.get("instruction") if isinstance(observation, dict) else None,
            "files": observation.get("files") if isinstance(observation, dict) else None,
            "frame": frame,
            "frame_changed": changed,
            "info": info,
        })
        return observation, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        start = time.perf_counter()
        observation, reward, terminated, truncated, info = self.env.step(action)
        seconds = time.perf_counter() - start
        self._steps += 1
        self._return += float(reward)
        self._last_info = info
        frame, changed = self._save_frame(observation)
        terminal = observation.get("terminal", "") if isinstance(observation, dict) else ""
        self._write({
            "type": "step",
            "step": self._steps,
            "action": describe_action(action),
            "reward": float(reward),
            "return": self._return,
            "terminated": bool(terminated),
            "truncated": bool(truncated),
            "score": info.get("score"),
            "full_pass": info.get("full_pass"),
            "status": info.get("status"),
            "milestones": {mid: {"passed": m.get("passed"), "checker_passed": m.get("checker_passed"),
                                 "detail": m.get("detail")}
                           for mid, m in (info.get("milestones") or {}).items()},
            "exit_code": info.get("exit_code"),
            "terminal": cut_middle(str(terminal), self.terminal_chars) if terminal else "",
            "frame": frame,
            "frame_changed": changed,
            "seconds": round(seconds, 6),
        })
        if terminated or truncated:
            self._finish("terminated" if terminated else "truncated")
        return observation, reward, terminated, truncated, info

    def close(self) -> None:
        self._finish("close")
        super().close()

    # -- files ----------------------------------------------------------------------------------
    def _open(self, info: dict[str, Any]) -> None:
        if self.episode_name is not None:
            name = self.episode_name(info)
            if not name or "/" in name or name in (".", ".."):
                raise ValueError(f"episode_name gave {name!r}, not a plain folder name")
        else:
            taken = [int(m.group(1)) for p in self.directory.iterdir() if (m := _EPISODE.match(p.name))]
            name = f"episode-{max(taken, default=-1) + 1:06d}"
        folder = self.directory / name
        if folder.exists():
            for old in folder.iterdir():
                if old.is_file() and (old.name == STEPS_FILE or old.suffix == ".png"):
                    old.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        self.episode_dir = folder
        self._handle = (folder / STEPS_FILE).open("w", encoding="utf-8", buffering=1)
        self._frame_hash = self._frame_name = None

    def _write(self, record: dict[str, Any]) -> None:
        if self._handle is not None:
            self._handle.write(json.dumps(jsonable(record), ensure_ascii=False) + "\n")

    def _save_frame(self, observation: Any) -> tuple[str | None, bool]:
        frame = observation.get("screenshot") if isinstance(observation, dict) else None
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or self.episode_dir is None:
            return self._frame_name, False
        digest = hashlib.blake2b(frame.tobytes(), digest_size=16)
        digest.update(repr(frame.shape).encode())
        key = digest.hexdigest()
        if key == self._frame_hash:
            return self._frame_name, False
        name = f"frame-{self._steps:06d}.png"
        Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)).save(self.episode_dir / name, compress_level=3)
        self._frame_hash, self._frame_name = key, name
        return name, True

    def _finish(self, reason: str) -> None:
        if self._handle is None:
            return
        self._write({"type": "end", "reason": reason, "steps": self._steps, "return": self._return,
                     "info": self._last_info})
        self._handle.close()
        self._handle = None
