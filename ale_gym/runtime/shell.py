"""The episode's persistent bash, driven through pexpect.

Each command is sent as one ANSI-C quoted string and run with `eval` in the shell itself, so the
working directory, variables and functions persist, while stdin is /dev/null so nothing can wait on
it. A per-shell random sentinel printed after the command carries the exit code. Output is read in
chunks into a bounded buffer, so 100 MB of output costs no memory beyond the budget.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import time
from dataclasses import dataclass

import pexpect

from ale_gym.runtime.jail import Jail
from ale_gym.runtime.text import BoundedBuffer, clean_terminal_text

BASH_ARGV = ["bash", "--norc", "--noprofile", "--noediting", "-i"]
INTERRUPT_GRACE = 2.0
READ_CHUNK = 1 << 16


@dataclass(frozen=True)
class CommandResult:
    output: str
    exit_code: int | None
    timed_out: bool = False
    notice: str = ""


def ansi_c_quote(text: str) -> str:
    """Quote text as $'...' so any bytes (newlines, quotes, UTF-8) reach bash as one line."""
    out = []
    for byte in text.encode("utf-8", "surrogateescape"):
        if 0x20 <= byte < 0x7F and byte not in (0x27, 0x5C):
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "$'" + "".join(out) + "'"


class Shell:
    """One bash process per episode, restarted with a notice if the agent ends it."""

    def __init__(self, jail: Jail, output_limit: int = 1 << 20) -> None:
        self.jail = jail
        self.output_limit = output_limit
        self.child: pexpect.spawn | None = None
        self._token = secrets.token_hex(8)
        self._sentinel = re.compile(rb"\x1f" + self._token.encode() + rb":(-?\d+)\x1e")

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        argv, env = self.jail.command(BASH_ARGV)
        env = dict(env, PS1="", PS2="", PROMPT_COMMAND="", HISTFILE="/dev/null")
        self.child = pexpect.spawn(argv[0], argv[1:], env=env, cwd=str(self.jail.workspace), echo=False,
                                   encoding=None, dimensions=(50, 200), use_poll=True)
        self.child.delaybeforesend = None
        setup = (f"stty -echo -icanon 2>/dev/null; bind 'set enable-bracketed-paste off' 2>/dev/null; "
                 f"set +o history; cd {ansi_c_quote(self.jail.workspace_inside)}; {self._sentinel_command()}\n")
        self.child.send(setup.encode())
        output, code = self._read_until_sentinel(time.monotonic() + 30.0)
        if code is None:
            raise RuntimeError(f"the shell did not start: {output.text()[-500:]!r}")

    @property
    def alive(self) -> bool:
        return self.child is not None and self.child.isalive()

    def close(self) -> None:
        if self.child is None:
            return
        child, self.child = self.child, None
        for pid in [child.pid, *_descendants(child.pid)]:
            _kill(pid)
        child.ptyproc.delayafterclose = 0.0  # everything is already killed: no need to wait politely
        child.ptyproc.delayafterterminate = 0.0
        try:
            child.close(force=True)
        except (OSError, pexpect.ExceptionPexpect):
            pass  # the jail's outer process can take a moment to die after SIGKILL: reap it below
        try:
            os.waitpid(child.pid, 0)
        except ChildProcessError:
            pass  # already reaped by pexpect

    # -- commands ------------------------------------------------------------------------------
    def _sentinel_command(self) -> str:
        return f"printf '\\037%s:%d\\036' {self._token} $?"

    def run(self, command: str, timeout: float = 120.0) -> CommandResult:
        notice = ""
        if self.child is None:
            self.start()
        elif not self.alive:
            notice = "[the previous shell had ended; a fresh shell was started in the workspace]\n"
            self.close()
            self.start()
        assert self.child is not None
        line = f"eval {ansi_c_quote(command)} </dev/null; {self._sentinel_command()}\n"
        self.child.send(line.encode())
        output, code = self._read_until_sentinel(time.monotonic() + timeout)
        if code is not None:
            return CommandResult(self._text(output), code, notice=notice)
        if not self.alive:
            self.close()
            self.start()
            return CommandResult(self._text(output), None,
                                 notice=notice + "[the shell ended (exit or kill); a fresh shell was started in the workspace]")
        return self._interrupt(output, timeout, notice)

    def _interrupt(self, output: BoundedBuffer, timeout: float, notice: str) -> CommandResult:
        """SIGINT through the terminal; then SIGKILL the foreground job; then a fresh shell."""
        assert self.child is not None
        note = f"[timed out after {timeout:g} s: interrupted]"
        self.child.send(b"\x03")
        self.child.send(f"\n{self._sentinel_command()}\n".encode())
        more, code = self._read_until_sentinel(time.monotonic() + INTERRUPT_GRACE, output)
        if code is None and self.alive:
            note = f"[timed out after {timeout:g} s: the command was killed]"
            for pid in self._foreground_job_pids():
                _kill(pid)
            self.child.send(f"\n{self._sentinel_command()}\n".encode())
            more, code = self._read_until_sentinel(time.monotonic() + INTERRUPT_GRACE, output)
        if code is None:
            note = f"[timed out after {timeout:g} s: the shell did not recover and was restarted in the workspace]"
            self.close()
            self.start()
        return CommandResult(self._text(more), None, timed_out=True, notice=notice + note)

    def _foreground_job_pids(self) -> list[int]:
        """Processes of the terminal's foreground group, or failing that everything below the shell."""
        assert self.child is not None
        try:
            group = os.tcgetpgrp(self.child.child_fd)
        except OSError:
            group = -1
        pids = _descendants(self.child.pid)
        if group > 0:
            in_group = [p for p in pids if _pgid(p) == group]
            if in_group:
                return in_group
        # The shell is the deepest bash; kill what runs under it.
        shells = [p for p in pids if _comm(p) == "bash"]
        if shells:
            return _descendants(shells[-1])
        return []

    def _read_until_sentinel(self, deadline: float, buffer: BoundedBuffer | None = None) -> tuple[BoundedBuffer, int | None]:
        assert self.child is not None
        buffer = buffer or BoundedBuffer(self.output_limit)
        window = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return buffer, None
            try:
                chunk = self.child.read_nonblocking(READ_CHUNK, timeout=min(remaining, 1.0))
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                return buffer, None
            window = window[-64:] + chunk
            match = self._sentinel.search(window)
            if match:
                before = len(chunk) - (len(window) - match.start())
                if before > 0:
                    buffer.feed(chunk[:before])
                elif before < 0:
                    # Part of the sentinel arrived in an earlier chunk: take it back out.
                    _unfeed(buffer, -before)
                return buffer, int(match.group(1))
            buffer.feed(chunk)

    @staticmethod
    def _text(buffer: BoundedBuffer) -> str:
        return clean_terminal_text(buffer.text())


def _unfeed(buffer: BoundedBuffer, count: int) -> None:
    buffer.total -= count
    if len(buffer.tail) >= count:
        del buffer.tail[len(buffer.tail) - count:]
    else:
        rest = count - len(buffer.tail)
        buffer.tail.clear()
        del buffer.head[len(buffer.head) - rest:]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(p) for p in handle.read().split())
    except OSError:
        pass
    return found


def _descendants(pid: int) -> list[int]:
    """Every process below `pid`, parents before children."""
    order: list[int] = []
    frontier = [pid]
    while frontier:
        children = [c for p in frontier for c in _children(p)]
        order.extend(children)
        frontier = children
    return order


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except OSError:
        return -1


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
