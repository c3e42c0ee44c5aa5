"""The window list of one X display, read from the window manager's EWMH properties.

The window manager publishes the windows it manages (`_NET_CLIENT_LIST`) and the focused one
(`_NET_ACTIVE_WINDOW`); titles come from `_NET_WM_NAME` (UTF-8) with `WM_NAME` as the fallback.
Windows can vanish between two requests: such a window is skipped, never an error.
"""

from __future__ import annotations

import struct
import threading

import xcffib
import xcffib.xproto

from ale_gym.tasks.base import Window

MAX_PROPERTY_WORDS = 1 << 16
CLIENT_MESSAGE = 33
SOURCE_PAGER = 2  # EWMH source indication: a pager/taskbar acting for the user, which WMs obey


class WindowList:
    """Reads the managed windows, their geometry and focus, over its own connection."""

    def __init__(self, connection: xcffib.Connection, lock: threading.Lock | None = None) -> None:
        self._conn = connection
        self._lock = lock or threading.Lock()
        self._root = connection.get_setup().roots[connection.pref_screen].root
        self._atoms: dict[str, int] = {}

    def atom(self, name: str) -> int:
        if name not in self._atoms:
            self._atoms[name] = int(self._conn.core.InternAtom(False, len(name), name).reply().atom)
        return self._atoms[name]

    def _property(self, window: int, name: str, kind: int = xcffib.xproto.GetPropertyType.Any) -> xcffib.xproto.GetPropertyReply:
        return self._conn.core.GetProperty(False, window, self.atom(name), kind, 0, MAX_PROPERTY_WORDS).reply()

    def _windows_of(self, window: int, name: str) -> list[int]:
        reply = self._property(window, name, xcffib.xproto.Atom.WINDOW)
        return [int(w) for w in reply.value.to_atoms()] if reply.format == 32 else []

    def _title(self, window: int) -> str:
        reply = self._property(window, "_NET_WM_NAME", self.atom("UTF8_STRING"))
        if reply.value_len:
            return reply.value.buf().decode("utf-8", "replace")
        reply = self._property(window, "WM_NAME")
        return reply.value.buf().decode("latin-1") if reply.value_len else ""

    def clients(self) -> list[int]:
        with self._lock:
            return self._windows_of(self._root, "_NET_CLIENT_LIST")

    def windows(self) -> list[Window]:
        with self._lock:
            clients = self._windows_of(self._root, "_NET_CLIENT_LIST")
            active = self._windows_of(self._root, "_NET_ACTIVE_WINDOW")
            focused = active[0] if active else 0
            found = []
            for client in clients:
                try:
                    geometry = self._conn.core.GetGeometry(client).reply()
                    origin = self._conn.core.TranslateCoordinates(client, self._root, 0, 0).reply()
                    title = self._title(client)
                except xcffib.Error:
                    continue
                found.append(Window(title=title, x=int(origin.dst_x), y=int(origin.dst_y),
                                    width=int(geometry.width), height=int(geometry.height),
                                    focused=client == focused))
            return found

    def active(self) -> int:
        """The focused managed window, 0 when none is."""
        with self._lock:
            active = self._windows_of(self._root, "_NET_ACTIVE_WINDOW")
            return active[0] if active else 0

    def transient_for(self, window: int) -> int:
        """The window `window` is a dialog of (WM_TRANSIENT_FOR), 0 for none."""
        with self._lock:
            try:
                owner = self._windows_of(window, "WM_TRANSIENT_FOR")
            except xcffib.Error:
                return 0
            return owner[0] if owner else 0

    def client_at(self, x: int, y: int) -> int:
        """The managed window whose frame is topmost at root point (x, y); 0 for the bare root or a popup."""
        with self._lock:
            try:
                top = int(self._conn.core.TranslateCoordinates(self._root, self._root, x, y).reply().child)
                if not top:
                    return 0
                for client in self._windows_of(self._root, "_NET_CLIENT_LIST"):
                    if self._top_level(client) == top:
                        return client
            except xcffib.Error:
                return 0
            return 0

    def _top_level(self, window: int) -> int:
        """The child of the root that holds `window` (the window manager's frame around a client)."""
        while True:
            parent = int(self._conn.core.QueryTree(window).reply().parent)
            if parent in (0, self._root):
                return window
            window = parent

    def activate(self, client: int) -> None:
        """Ask the window manager to focus and raise `client` (EWMH _NET_ACTIVE_WINDOW request)."""
        mask = xcffib.xproto.EventMask.SubstructureRedirect | xcffib.xproto.EventMask.SubstructureNotify
        with self._lock:
            event = struct.pack("=BBHII5I", CLIENT_MESSAGE, 32, 0, client, self.atom("_NET_ACTIVE_WINDOW"),
                                SOURCE_PAGER, 0, 0, 0, 0)
            self._conn.core.SendEvent(False, self._root, mask, event)
            self._conn.flush()
