"""The episode's persistent Python interpreter, a jailed process speaking JSON lines.

The interpreter enforces a cell's time limit itself (SIGALRM raises inside the code, state survives).
If it does not answer within a grace period after that, or it dies (os._exit, a segfault), the host
kills it and starts a fresh one, and the output says the state was lost.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from importlib import resources

from ale_gym.runtime.jail import Jail
from ale_gym.runtime.text import clean_terminal_text

HARD_KILL_GRACE = 3.0
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class CellResult:
    output: str
    exit_code: int | None  # 0 ok, 1 exception, None when the cell was cut off or the interpreter died
    timed_out: bool = False
    notice: str = ""


class PythonInterpreter:
    """One interpreter per episode; started lazily on the first Python action."""

    def __init__(self, jail: Jail, output_limit: int = 1 << 20) -> None:
        self.jail = jail
        self.output_limit = output_limit
        self.process: subprocess.Popen[bytes] | None = None
        self._pending = b""
        self._source = resources.files("ale_gym.runtime").joinpath("repl_server.py").read_text("utf-8")

    def start(self) -> None:
        argv, env = self.jail.command(["python3", "-u", "-c", self._source])
        self.process = subprocess.Popen(argv, env=env, cwd=str(self.jail.workspace), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        self._pending = b""
        ready = self._read_reply(time.monotonic() + START_TIMEOUT)
        if ready is None or not ready.get("ready"):
            self.close()
            raise RuntimeError("the Python interpreter did not start")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (process.stdin, process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        process.wait()

    def run(self, code: str, timeout: float = 120.0) -> CellResult:
        notice = ""
        if not self.alive:
            if self.process is not None:
                notice = "[the previous Python interpreter had ended; a fresh one was started: earlier state is lost]\n"
            self.close()
            self.start()
        assert self.process is not None and self.process.stdin is not None
        request = json.dumps({"code": code, "timeout": timeout, "limit": self.output_limit}).encode() + b"\n"
        try:
            self.process.stdin.write(request)
            self.process.stdin.flush()
        except BrokenPipeError:
            self.close()
            return CellResult("", None, notice=notice + "[the Python interpreter died; a fresh one starts on the next action]")
        reply = self._read_reply(time.monotonic() + timeout + HARD_KILL_GRACE)
        if reply is None:
            crashed = not self.alive
            code_text = ""
            if crashed and self.process is not None:
                code_text = f" (exit status {self.process.returncode})"
            self.close()
            self.start()
            why = (f"[the Python interpreter crashed{code_text}; a fresh one was started: earlier state is lost]" if crashed
                   else f"[the code ran past its {timeout:g} s limit and did not stop; the interpreter was restarted: earlier state is lost]")
            return CellResult("", None, timed_out=not crashed, notice=notice + why)
        status = reply["status"]
        output = clean_terminal_text(reply["output"])
        return CellResult(output, {"ok": 0, "error": 1}.get(status), timed_out=status == "timeout", notice=notice)

    def _read_reply(self, deadline: float) -> dict | None:
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                if not selector.select(min(remaining, 1.0)):
                    continue
                try:
                    chunk = os.read(fd, 1 << 20)
                except BlockingIOError:
                    continue
                if not chunk:
                    if self.process.poll() is None:
                        self.process.wait(timeout=1.0)
                    return None
                self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return None
