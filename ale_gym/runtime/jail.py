"""Where agent code runs: the jail interface, and the unjailed mode a user must ask for explicitly.

Every process started for the agent (its shell, its Python, apps it launches) and every piece of agent
code a checker runs goes through `Jail.command` or `Jail.run`. The bubblewrap jail lives in
`ale_gym.runtime.bwrap`; `NoJail` runs processes directly and exists only for machines without user
namespaces, chosen with `sandbox="none"`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ale_gym.tasks.base import RunResult

RUN_OUTPUT_LIMIT = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Resource limits of jailed processes, set (soft = hard) before the jail starts.

    Address space, file size, open files and CPU seconds bind each process; the process count binds the
    whole episode, because each bubblewrap jail runs as a host uid of its own (see `bwrap`).
    """

    address_space: int = 8 << 30
    processes: int = 512
    file_size: int = 1 << 30
    open_files: int = 1024
    cpu_seconds: int = 4 * 3600


def base_environment(home: str, display: str | None) -> dict[str, str]:
    """The clean environment agent processes start with."""
    env = {
        "PATH": os.pathsep.join((os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin")),
        "HOME": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
    }
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        env["VIRTUAL_ENV"] = venv
        env["PATH"] = os.path.join(venv, "bin") + os.pathsep + env["PATH"]
    if display:
        env["DISPLAY"] = display
        env["XAUTHORITY"] = "/dev/null"  # the episode's Xvfb has no auth; Xlib clients must not look for a cookie
    return env


class Jail(ABC):
    """Turns a command into one that runs confined to an episode's workspace."""

    def __init__(self, workspace: Path, display: str | None = None, limits: Limits | None = None) -> None:
        self.workspace = workspace
        self.display = display
        self.limits = limits or Limits()

    @property
    @abstractmethod
    def workspace_inside(self) -> str:
        """The workspace's path as agent code sees it."""

    @abstractmethod
    def command(self, argv: list[str], *, workspace: Path | None = None, env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
        """The host argv and environment that run `argv` jailed, with `workspace` (default: the episode's) as cwd."""

    def run(self, argv: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> RunResult:
        """Run a program to completion in the jail with `cwd` as its workspace, killing it at `timeout`."""
        host_argv, host_env = self.command(argv, workspace=cwd, env=env)
        return run_process(host_argv, host_env, cwd=cwd, timeout=timeout)

    def close(self) -> None:
        """Release anything the jail holds (nothing, by default)."""


class NoJail(Jail):
    """Runs agent processes directly on the host: only for `sandbox="none"`, which warns at every reset."""

    @property
    def workspace_inside(self) -> str:
        return str(self.workspace)

    def command(self, argv: list[str], *, workspace: Path | None = None, env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
        home = str(workspace or self.workspace)
        merged = base_environment(home, self.display)
        merged.update(env or {})
        return list(argv), merged


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_process(argv: list[str], env: dict[str, str], *, cwd: Path, timeout: float) -> RunResult:
    """Run to completion in its own session; on timeout kill the whole process group."""
    start = time.monotonic()
    timed_out = False
    # Output goes to files, so a program printing gigabytes costs disk (capped by limits), not memory.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   start_new_session=True)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
            process.wait()
        finally:
            _kill_group(process)
        stdout, stderr = _tail(out), _tail(err)
    return RunResult(
        returncode=None if timed_out else process.returncode,
        stdout=stdout,
        stderr=stderr,
        timed_out=timed_out,
        seconds=time.monotonic() - start,
    )


def _tail(handle: IO[bytes]) -> str:
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - RUN_OUTPUT_LIMIT))
    return handle.read().decode("utf-8", "replace")
