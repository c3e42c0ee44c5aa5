"""An episode's own desktop: a private Xvfb display with the openbox window manager.

Everything the agent sees and does on screen goes through one `Desktop`: screenshots (MIT-SHM grabs
with mss), mouse and keyboard events (XTEST over the desktop's own connection, see `xinput`), the window
list (see `xwindows`) and the applications opened for it. Several desktops live side by side in one
process without sharing any X connection, so input and screenshots never cross between episodes.
Waiting is always a poll of a condition under a deadline, never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import mss
import numpy as np
import xcffib
import xcffib.xproto
from xvfbwrapper import Xvfb

from ale_gym import actions as A
from ale_gym.runtime.openbox import write_config
from ale_gym.runtime.xinput import XInput
from ale_gym.runtime.xwindows import WindowList
from ale_gym.tasks.base import Window

GUI_KINDS = ("move", "click", "drag", "scroll", "key", "type_text")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
FOCUS_TIMEOUT = 2.0
POLL_INTERVAL = 0.01
LOG_TAIL = 2000

T = TypeVar("T")


def poll(condition: Callable[[], T], timeout: float, interval: float = POLL_INTERVAL) -> T | None:
    """Call `condition` until it returns something truthy or `timeout` seconds pass; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - LOG_TAIL))
            return handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _stop_group(processes: Sequence[subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM each process group, wait until `timeout`, then SIGKILL what is left."""
    for process in processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the group may hold children even after its leader left
        except (ProcessLookupError, PermissionError):
            pass
        if process.poll() is None:
            process.kill()
        process.wait()


def _remove_leftovers(number: int, pid: int | None) -> None:
    """A killed Xvfb cannot remove its lock and socket: remove them, unless another server owns the number now."""
    lock = Path(f"/tmp/.X{number}-lock")
    try:
        owner = lock.read_text().strip()
    except (FileNotFoundError, UnicodeDecodeError):
        owner = ""
    except OSError:
        return
    if owner not in ("", str(pid)):
        return
    lock.unlink(missing_ok=True)
    Path(f"/tmp/.X11-unix/X{number}").unlink(missing_ok=True)


@dataclass
class _App:
    process: subprocess.Popen[bytes]
    argv: tuple[str, ...]
    log: Path


@dataclass
class _Resources:
    """What a running desktop holds; released by `release`, also when the Desktop is garbage-collected."""

    folder: Path | None = None
    xvfb: Xvfb | None = None
    number: int | None = None
    window_manager: subprocess.Popen[bytes] | None = None
    connection: xcffib.Connection | None = None
    grabber: Any = None
    apps: list[_App] = field(default_factory=list)

    def release(self) -> None:
        _stop_group([app.process for app in self.apps], STOP_TIMEOUT)
        # Closing a connection to a dead server raises; it must not keep the server and files from going.
        if self.grabber is not None:
            with contextlib.suppress(Exception):
                self.grabber.close()
            self.grabber = None
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.disconnect()
            self.connection = None
        if self.window_manager is not None:
            # openbox's orderly exit on SIGTERM can take a second and saves nothing we need: kill it outright.
            _stop_group([self.window_manager], 0.0)
            self.window_manager = None
        xvfb_pid = None
        if self.xvfb is not None:
            xvfb_pid = self.xvfb.proc.pid if self.xvfb.proc is not None else None
            self.xvfb.stop()  # SIGTERM, SIGKILL after its timeout; reaps the process
            self.xvfb = None
        if self.number is not None:
            _remove_leftovers(self.number, xvfb_pid)
            self.number = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


class Desktop:
    """A private X display (Xvfb) with a window manager (openbox), its screen, input and windows."""

    def __init__(self, width: int = 1280, height: int = 800, depth: int = 24) -> None:
        if not (isinstance(width, int) and isinstance(height, int) and 16 <= width <= 8192 and 16 <= height <= 8192):
            raise ValueError(f"screen size must be whole pixels in [16, 8192], got {width}x{height}")
        if depth != 24:
            raise ValueError(f"colour depth must be 24 (the screenshot grabber reads 24-bit screens), got {depth}")
        self.width = width
        self.height = height
        self.depth = depth
        self._res = _Resources()
        self._finalizer = weakref.finalize(self, self._res.release)
        self._lock = threading.Lock()
        self._input: XInput | None = None
        self._windows: WindowList | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start Xvfb and openbox; return once the window manager manages the screen."""
        if self._res.xvfb is not None:
            raise RuntimeError(f"desktop {self.display} is already running")
        if not self._finalizer.alive:
            raise RuntimeError("a closed desktop cannot be started again; make a new one")
        for program, package in (("Xvfb", "xvfb"), ("openbox", "openbox")):
            if shutil.which(program) is None:
                raise FileNotFoundError(f"{program} is not installed (Debian package {package})")
        try:
            self._start()
        except BaseException:
            self._input = self._windows = None
            self._res.release()
            raise
        return self

    def _start(self) -> None:
        res = self._res
        res.folder = Path(tempfile.mkdtemp(prefix="ale-desktop-"))
        # A non-empty environ keeps xvfbwrapper from writing DISPLAY into this process's os.environ.
        quiet_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(res.folder)}
        res.xvfb = Xvfb(width=self.width, height=self.height, colordepth=self.depth, environ=quiet_env,
                        extra_args=["-nolisten", "tcp", "-noreset", "-dpi", "96"], timeout=START_TIMEOUT)
        res.xvfb.start()
        res.number = res.xvfb.new_display
        res.connection = xcffib.connect(display=self.display)
        wm_log = res.folder / "openbox.log"
        # openbox ignores windows mapped while it is still starting; it runs --startup once it manages them.
        ready = res.folder / "wm-ready"
        with wm_log.open("wb") as log:
            res.window_manager = subprocess.Popen(
                ["openbox", "--sm-disable", "--config-file", str(write_config(res.folder)),
                 "--startup", f"touch {shlex.quote(str(ready))}"],
                env={**quiet_env, "DISPLAY": self.display, "LANG": "C.UTF-8"}, cwd=res.folder,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._windows = WindowList(res.connection, self._lock)
        wm = res.window_manager
        if not poll(lambda: wm.poll() is not None or ready.exists(), START_TIMEOUT) or wm.poll() is not None:
            raise RuntimeError(f"openbox did not start on {self.display}: {_tail(wm_log) or 'no output'}")
        self._input = XInput(res.connection, self._lock)
        res.grabber = mss.MSS(display=self.display)

    def close(self) -> None:
        """End every application, the window manager and Xvfb; remove the display's lock and socket."""
        self._input = None
        self._windows = None
        self._finalizer()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.display if self.running else "stopped"
        return f"Desktop({self.width}x{self.height}x{self.depth}, {where})"

    @property
    def running(self) -> bool:
        return self._res.xvfb is not None and self._input is not None

    @property
    def display(self) -> str:
        """The X display name, e.g. ':12'."""
        if self._res.number is None:
            raise RuntimeError("the desktop is not running")
        return f":{self._res.number}"

    def _require(self) -> tuple[XInput, WindowList]:
        if self._input is None or self._windows is None:
            raise RuntimeError("the desktop is not running; call start() first")
        return self._input, self._windows

    @contextlib.contextmanager
    def _x_alive(self) -> Iterator[None]:
        """Turn any failure after the X server died (each library reports it its own way) into one clear error."""
        try:
            yield
        except (ValueError, TimeoutError):
            raise
        except Exception as exc:
            xvfb = self._res.xvfb.proc if self._res.xvfb is not None else None
            if xvfb is not None and xvfb.poll() is None and not isinstance(exc, xcffib.ConnectionException):
                raise
            raise RuntimeError(f"the X server of desktop {self.display} is gone: {exc!r}") from exc

    # -- screen ---------------------------------------------------------------------------------------

    def screenshot(self) -> np.ndarray:
        """The screen as an (H, W, 3) uint8 RGB array."""
        self._require()
        with self._x_alive():
            shot = self._res.grabber.grab({"left": 0, "top": 0, "width": self.width, "height": self.height})
        bgra = np.frombuffer(shot.raw, dtype=np.uint8).reshape(self.height, self.width, 4)
        frame = np.empty((self.height, self.width, 3), dtype=np.uint8)
        # Three plane copies are ~4x faster than copying the reversed-channel view in one go.
        frame[..., 0] = bgra[..., 2]
        frame[..., 1] = bgra[..., 1]
        frame[..., 2] = bgra[..., 0]
        return frame

    def wait_until_still(self, quiet: float = 0.1, timeout: float = 2.0) -> np.ndarray:
        """The screen once it has not changed for `quiet` seconds (or at `timeout`): applications have repainted."""
        frame = self.screenshot()
        since = time.monotonic()
        deadline = since + timeout

        def still() -> bool:
            nonlocal frame, since
            current = self.screenshot()
            if not np.array_equal(current, frame):
                frame, since = current, time.monotonic()
            return time.monotonic() - since >= quiet

        poll(still, max(0.0, deadline - time.monotonic()), interval=min(quiet / 4, 0.05))
        return frame

    # -- input ----------------------------------------------------------------------------------------

    def perform(self, action: A.Action) -> None:
        """Carry out a GUI action on this display; ValueError (and no event sent) when it cannot be done."""
        xin, _ = self._require()
        action = A.validate(action)
        kind = A.kind_of(action)
        if kind not in GUI_KINDS:
            raise ValueError(f"the desktop performs GUI actions {GUI_KINDS}, not {kind!r}")
        with self._x_alive():
            self._perform(xin, kind, action)

    def _perform(self, xin: XInput, kind: str, action: A.Action) -> None:
        x1, y1, x2, y2 = (int(v) for v in np.asarray(action["coords"]))
        if kind == "move":
            xin.move(x1, y1)
        elif kind == "click":
            xin.check_point(x1, y1)
            self._focus_at(x1, y1)
            xin.click(x1, y1, A.BUTTONS[int(action["button"])], int(action["clicks"]))
        elif kind == "drag":
            xin.check_point(x1, y1)
            xin.check_point(x2, y2)
            self._focus_at(x1, y1)
            xin.drag(x1, y1, x2, y2)
        elif kind == "scroll":
            xin.scroll(int(action["amount"]), *((x1, y1) if x2 else (None, None)))
        elif kind == "key":
            names = ["+"] if action["text"] == "+" else action["text"].split("+")
            for name in names:
                xin.resolve_name(name)  # unknown names fail before the focus wait
            self._settle_focus()
            xin.key(*names)
        else:
            xin.check_text(action["text"])
            self._settle_focus()
            xin.type_text(action["text"])

    def _focus_at(self, x: int, y: int) -> None:
        """Click-to-focus: activate the window under (x, y) and wait until the window manager has done it."""
        _, wl = self._require()
        client = wl.client_at(x, y)
        before = wl.active()
        if client and client != before and (not before or wl.transient_for(before) != client):
            wl.activate(client)
            # The window manager may focus a dialog of `client` instead: any change means it has acted.
            poll(lambda: wl.active() != before, FOCUS_TIMEOUT)

    def _settle_focus(self) -> None:
        """Before keys go out, wait briefly for a window to hold the focus when windows exist but none does."""
        _, wl = self._require()
        poll(lambda: wl.active() or not wl.clients(), FOCUS_TIMEOUT)

    # -- windows and applications ---------------------------------------------------------------------

    def windows(self) -> list[Window]:
        """Managed windows with title, geometry and focus."""
        with self._x_alive():
            return self._require()[1].windows()

    def launch(self, argv: Sequence[str], env: Mapping[str, str], cwd: str | os.PathLike[str] | None = None) -> subprocess.Popen[bytes]:
        """Start an application on this display (argv and env come ready-made, e.g. jailed); ended at close()."""
        self._require()
        env = dict(env)
        env.setdefault("DISPLAY", self.display)
        if env["DISPLAY"] != self.display:
            raise ValueError(f"env DISPLAY is {env['DISPLAY']!r} but this desktop is {self.display}")
        log = self._res.folder / f"app-{len(self._res.apps)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self._res.apps.append(_App(process, tuple(argv), log))
        return process

    def wait_for_window(self, title_regex: str, timeout: float = 30.0) -> Window:
        """Poll the window list until a window title matches (re.search); then give it a moment to take focus."""
        _, wl = self._require()
        try:
            pattern = re.compile(title_regex)
        except re.error as exc:
            raise ValueError(f"bad window title pattern {title_regex!r}: {exc}") from None
        deadline = time.monotonic() + timeout

        def match() -> Window | None:
            return next((w for w in wl.windows() if pattern.search(w.title)), None)

        with self._x_alive():
            found = poll(match, timeout)
            if found is None:
                raise TimeoutError(f"no window titled like {title_regex!r} on {self.display} after {timeout:g} s; "
                                   f"windows: {[w.title for w in wl.windows()]}{self._app_report()}")
            def focused() -> Window | None:
                window = match()
                return window if window is not None and window.focused else None

            return poll(focused, min(FOCUS_TIMEOUT, max(0.0, deadline - time.monotonic()))) or match() or found

    def _app_report(self) -> str:
        ended = [f"\n{' '.join(app.argv)} exited with {app.process.returncode}: {_tail(app.log) or 'no output'}"
                 for app in self._res.apps if app.process.poll() is not None]
        return "".join(ended)
