"""What a task is: a generator, milestone checkers, an oracle and cheats, behind one small class.

A task knows nothing of Gymnasium or of the runtime. Its generator writes inputs into the workspace and
references into a host-side `hidden` folder; its checkers read files through `CheckContext`, which
refuses links out of the workspace and oversized files, and run agent code only through `ctx.run`, which
the environment backs with the jail.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ale_gym.actions import Action
from ale_gym.tasks.card import TaskCard

DEFAULT_READ_LIMIT = 64 * 1024 * 1024


class DeliverableError(Exception):
    """A deliverable is missing or unusable; the milestone fails with this message as its reason."""


@dataclass(frozen=True)
class Verdict:
    passed: bool
    detail: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AppLaunch:
    """An application to open on the desktop at reset, and the window title that says it is up."""

    argv: tuple[str, ...]
    window_title: str  # a regular expression matched against window titles


@dataclass
class Instance:
    """One generated piece of work. `state` is host-side only: never shown to the agent."""

    instruction: str
    state: dict[str, Any] = field(default_factory=dict)
    open_at_reset: list[AppLaunch] = field(default_factory=list)


@dataclass(frozen=True)
class RunResult:
    returncode: int | None  # None when the run was killed at its time limit
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float


@dataclass(frozen=True)
class Window:
    title: str
    x: int
    y: int
    width: int
    height: int
    focused: bool


@dataclass(frozen=True)
class Cheat:
    """A plausible but wrong deliverable, and the milestone that must catch it."""

    name: str
    catches: str
    actions: list[Action]
    description: str = ""


@dataclass
class GenContext:
    workspace: Path
    hidden: Path
    data_dir: Path
    tier: str
    seed: int


Runner = Callable[..., RunResult]


@dataclass
class CheckContext:
    """What a checker may touch: the workspace (read safely), its references, and the jail."""

    workspace: Path
    hidden: Path
    instance: Instance
    tier: str
    data_dir: Path
    runner: Runner
    window_lister: Callable[[], list[Window]] = lambda: []
    scratch_root: Path | None = None

    def path(self, relative: str) -> Path:
        """The host path of a workspace file, refusing anything that leaves the workspace."""
        root = self.workspace.resolve()
        candidate = (self.workspace / relative)
        try:
            resolved = candidate.resolve(strict=True)
        except FileNotFoundError:
            raise DeliverableError(f"{relative} does not exist") from None
        except (OSError, RuntimeError) as exc:
            raise DeliverableError(f"{relative} cannot be resolved: {exc}") from None
        if resolved != root and root not in resolved.parents:
            raise DeliverableError(f"{relative} points outside the workspace")
        return resolved

    def exists(self, relative: str) -> bool:
        try:
            return self.path(relative).exists()
        except DeliverableError:
            return False

    def read_bytes(self, relative: str, max_bytes: int = DEFAULT_READ_LIMIT) -> bytes:
        target = self.path(relative)
        if not target.is_file():
            raise DeliverableError(f"{relative} is not a regular file")
        size = target.stat().st_size
        if size > max_bytes:
            raise DeliverableError(f"{relative} is {size} bytes; the limit is {max_bytes}")
        with target.open("rb") as handle:
            return handle.read(max_bytes + 1)[:max_bytes]

    def read_text(self, relative: str, max_bytes: int = DEFAULT_READ_LIMIT) -> str:
        data = self.read_bytes(relative, max_bytes)
        if b"\x00" in data:
            raise DeliverableError(f"{relative} is binary, not text")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise DeliverableError(f"{relative} is not UTF-8 text") from None

    @contextlib.contextmanager
    def scratch(self, copy_workspace: bool = True) -> Iterator[Path]:
        """A throwaway folder (a copy of the workspace's regular files) for running agent code on."""
        folder = Path(tempfile.mkdtemp(prefix="ale-scratch-", dir=self.scratch_root))
        try:
            if copy_workspace:
                copy_regular_files(self.workspace, folder)
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def run(self, argv: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> RunResult:
        """Run a program inside the jail with `cwd` mounted as the workspace, under a time limit."""
        return self.runner(list(argv), cwd=cwd, timeout=timeout, env=env or {})

    def windows(self) -> list[Window]:
        return self.window_lister()


def copy_regular_files(source: Path, destination: Path, max_total: int = 1 << 30) -> None:
    """Copy regular files and folders, never following links, stopping at `max_total` bytes."""
    total = 0
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_symlink():
            continue
        if path.is_dir():
            (destination / relative).mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            total += path.stat().st_size
            if total > max_total:
                raise DeliverableError("the workspace is larger than the checker copies")
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination / relative)


Checker = Callable[[CheckContext], "Verdict | bool"]


class Task:
    """Base class of every task: subclass it in `envs/<slug>/task.py` and write the card docstring.

    Subclasses implement `generate`, one `check_<milestone_id>` method per milestone of the card,
    `oracle` and `cheats`.
    """

    def __init__(self, card: TaskCard, data_dir: Path) -> None:
        self.card = card
        self.data_dir = data_dir

    def generate(self, ctx: GenContext, rng: np.random.Generator) -> Instance:
        """Write this instance's inputs into ctx.workspace and its references into ctx.hidden."""
        raise NotImplementedError

    def checkers(self) -> dict[str, Checker]:
        """Milestone id -> checker; by default the methods named check_<id>."""
        found = {}
        for spec in self.card.milestones:
            method = getattr(self, f"check_{spec.id}", None)
            if callable(method):
                found[spec.id] = method
        return found

    def oracle(self, instance: Instance, tier: str) -> list[Action]:
        """A scripted solution through the public action space that reaches full pass."""
        raise NotImplementedError

    def cheats(self, instance: Instance, tier: str) -> list[Cheat]:
        """Plausible wrong deliverables; each must miss full pass and fail the milestone it names."""
        return []
