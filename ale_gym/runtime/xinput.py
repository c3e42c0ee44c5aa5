"""Keyboard and mouse input for one X display, sent with the XTEST extension over its own connection.

Why not pyautogui in-process: pyautogui opens one X connection to `$DISPLAY` when it is imported and
routes every call through that module-level connection, so several desktops in one process would fight
over it. Each `XInput` owns its connection instead, which makes crosstalk impossible by construction. The
key names are pyautogui's (the names agents know from it); the ones its X11 backend maps are accepted,
every other name is a `ValueError` instead of pyautogui's silent no-op.

Reliability: the X server handles requests from one connection in order, so a click followed by typing
reaches the application in that order; every call ends with a round trip, so the events have been
dispatched when it returns. Characters missing from the US keymap are the classic way to lose keys:
an application that has not yet re-read a keymap changed just before the key press decodes the key with
the old map (NoSymbol). So, before any application starts, the keycodes that carry nothing useful
(empty ones and multimedia keys) are given a table of ~200 common non-ASCII characters (Latin accents,
typography, arrows, Greek, maths). Only rarer characters are mapped on demand, onto a few reserved
keycodes, each kept as long as possible, with a short pause after the change (the one wait here that
cannot be a poll: nothing tells when an application has re-read the keymap).
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

import xcffib
import xcffib.xproto
import xcffib.xtest
from xcffib import keysymdef

KEY_PRESS, KEY_RELEASE, BUTTON_PRESS, BUTTON_RELEASE, MOTION = 2, 3, 4, 5, 6
BUTTONS = {"left": 1, "middle": 2, "right": 3}
SCROLL_UP, SCROLL_DOWN = 4, 5
DRAG_STEPS = 8

# pyautogui's key names that its X11 backend maps, with the X keysym each one sends.
NAMED_KEYS: dict[str, str] = {
    "backspace": "BackSpace", "\b": "BackSpace", "tab": "Tab", "\t": "Tab", "enter": "Return",
    "return": "Return", "\n": "Return", "\r": "Return", "shift": "Shift_L", "ctrl": "Control_L",
    "alt": "Alt_L", "pause": "Pause", "capslock": "Caps_Lock", "esc": "Escape", "escape": "Escape",
    "pgup": "Page_Up", "pgdn": "Page_Down", "pageup": "Page_Up", "pagedown": "Page_Down", "end": "End",
    "home": "Home", "left": "Left", "up": "Up", "right": "Right", "down": "Down", "select": "Select",
    "print": "Print", "execute": "Execute", "prtsc": "Print", "prtscr": "Print", "prntscrn": "Print",
    "printscreen": "Print", "insert": "Insert", "del": "Delete", "delete": "Delete", "help": "Help",
    "win": "Super_L", "winleft": "Super_L", "winright": "Super_R", "apps": "Menu",
    "multiply": "KP_Multiply", "add": "KP_Add", "separator": "KP_Separator", "subtract": "KP_Subtract",
    "decimal": "KP_Decimal", "divide": "KP_Divide", "numlock": "Num_Lock", "scrolllock": "Scroll_Lock",
    "shiftleft": "Shift_L", "shiftright": "Shift_R", "ctrlleft": "Control_L", "ctrlright": "Control_R",
    "altleft": "Alt_L", "altright": "Alt_R", "space": "space", " ": "space",
    **{f"num{i}": f"KP_{i}" for i in range(10)},
    **{f"f{i}": f"F{i}" for i in range(1, 25)},
}
# Single printable ASCII characters are key names too (pyautogui's table holds them all).
CHAR_KEYS = frozenset(chr(c) for c in range(0x21, 0x7F))
SHIFT_NAMES = frozenset({"shift", "shiftleft", "shiftright"})
XF86_KEYSYMS = range(0x1008FF00, 0x10090000)
DYNAMIC_RESERVE = 8  # keycodes kept back for characters outside the preset table
RARE_KEYMAP_SETTLE = 0.05  # seconds for applications to re-read the keymap after a rare character is mapped
# Mapped at start, most useful first: Latin-1, typography, arrows, Greek, maths, Central European letters.
PRESET_CHARS = "".join(chr(c) for c in range(0xA1, 0x100)) + (
    "–—‘’“”„…•€™†‡‰′″←→↑↓↔⇒⇐⇔✓✗"
    "αβγδεζηθικλμνξοπρστυφχψω≤≥≠≈∞√∑∏∫∂∆∇∈∉∩∪⊂⊃∀∃∧∨⊕⊗⋅∘"
    "ąćęłńśźżčďěňřšťůžőűğışœ"
)


def preset_pairs(chars: str) -> list[tuple[str, ...]]:
    """Key rows for the preset, in the order given: a small letter with its capital, as on a real keyboard;
    other characters two by two."""
    rows: list[tuple[str, ...]] = []
    placed: set[str] = set()
    pending: list[str] = []
    for ch in chars:
        lower = ch.lower()
        if ch in placed or (ch.isupper() and len(lower) == 1 and lower != ch and lower in chars):
            continue  # a capital goes with its small letter
        upper = ch.upper()
        if ch.islower() and len(upper) == 1 and upper != ch and upper not in placed:
            rows.append((ch, upper))
            placed.update((ch, upper))
            continue
        placed.add(ch)
        pending.append(ch)
        if len(pending) == 2:
            rows.append(tuple(pending))
            pending = []
    if pending:
        rows.append(tuple(pending))
    return rows


def keysym_of_name(name: str) -> int:
    value = getattr(keysymdef, f"XK_{name}", None)
    if value is None:
        raise LookupError(f"no X keysym named {name}")
    return int(value)


def keysym_of_char(char: str) -> int:
    """The X keysym that types `char`: Latin-1 maps to itself, the rest of Unicode to 0x01000000 + code."""
    code = ord(char)
    if char in NAMED_KEYS:
        return keysym_of_name(NAMED_KEYS[char])
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    if unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn"):
        raise ValueError(f"cannot type the character U+{code:04X}: it is a control or unassigned code point")
    return 0x01000000 + code


@dataclass(frozen=True)
class Stroke:
    keycode: int
    shift: bool


class XInput:
    """Sends mouse and keyboard events to one display; validates everything before sending anything."""

    def __init__(self, connection: xcffib.Connection, lock: threading.Lock | None = None) -> None:
        self._conn = connection
        self._lock = lock or threading.Lock()
        self._xtest = connection(xcffib.xtest.key)
        setup = connection.get_setup()
        screen = setup.roots[connection.pref_screen]
        self._root = screen.root
        self.width = int(screen.width_in_pixels)
        self.height = int(screen.height_in_pixels)
        self._min_keycode = int(setup.min_keycode)
        self._max_keycode = int(setup.max_keycode)
        self._strokes: dict[int, Stroke] = {}
        self._spare: list[int] = []
        self._assigned: OrderedDict[int, int] = OrderedDict()  # keysym -> reserved keycode, least recent first
        self._read_keymap()
        self._shift = self._strokes[keysym_of_name("Shift_L")].keycode
        self._preset()
        # Key repeat would turn a press delayed by a busy machine into a run of repeated characters.
        connection.core.ChangeKeyboardControl(xcffib.xproto.KB.AutoRepeatMode, [xcffib.xproto.AutoRepeatMode.Off])
        self._round_trip()

    # -- keymap ---------------------------------------------------------------------------------------

    def _read_keymap(self) -> None:
        count = self._max_keycode - self._min_keycode + 1
        reply = self._conn.core.GetKeyboardMapping(self._min_keycode, count).reply()
        per = int(reply.keysyms_per_keycode)
        syms = list(reply.keysyms)
        rows = [syms[i * per:(i + 1) * per] for i in range(count)]
        modifiers = {int(k) for k in self._conn.core.GetModifierMapping().reply().keycodes if k}
        for keycode, row in enumerate(rows, start=self._min_keycode):
            if keycode not in modifiers and all(not k or k in XF86_KEYSYMS for k in row):
                self._spare.append(keycode)  # nothing on it, or only a multimedia key nobody can name
        spare = set(self._spare)
        # Group 1 only, plain column first, so a keysym on both columns is typed without shift.
        for column in (0, 1):
            for keycode, row in enumerate(rows, start=self._min_keycode):
                if keycode not in spare and column < len(row) and row[column] and row[column] not in self._strokes:
                    self._strokes[row[column]] = Stroke(keycode, column == 1)

    def _preset(self) -> None:
        """Put the preset characters on spare keycodes, two per key (plain and shifted), in one go."""
        keys = self._spare[:max(0, len(self._spare) - DYNAMIC_RESERVE)]
        self._spare = self._spare[len(keys):]
        wanted = [pair for pair in ([k for k in map(keysym_of_char, row) if k not in self._strokes]
                                    for row in preset_pairs(PRESET_CHARS)) if pair]
        rows: dict[int, list[int]] = {}
        for keycode, pair in zip(keys, wanted):
            rows[keycode] = (pair + [0])[:2]
            for column, keysym in enumerate(pair):
                self._strokes[keysym] = Stroke(keycode, column == 1)
        unused = keys[len(rows):]
        self._spare = unused + self._spare
        run: list[int] = []
        for keycode in sorted(rows) + [-1]:  # one request per run of consecutive keycodes
            if run and keycode != run[-1] + 1:
                self._conn.core.ChangeKeyboardMapping(len(run), run[0], 2, [k for c in run for k in rows[c]])
                run = []
            run.append(keycode)

    def _stroke_for(self, keysym: int) -> Stroke:
        """The key that types `keysym`; characters outside the keymap must have been mapped by `_map_rare`."""
        found = self._strokes.get(keysym)
        if found is not None:
            return found
        self._assigned.move_to_end(keysym)
        return Stroke(self._assigned[keysym], False)

    def _map_rare(self, keysyms: set[int]) -> bool:
        """Give the characters outside the keymap a reserved keycode each; True when the keymap changed."""
        missing = [k for k in keysyms if k not in self._strokes and k not in self._assigned]
        for keysym in missing:
            if self._spare:
                keycode = self._spare.pop()
            else:  # all reserved keycodes are taken: recycle the least recently used one not needed now
                victim = next(k for k in self._assigned if k not in keysyms)
                keycode = self._assigned.pop(victim)
            self._conn.core.ChangeKeyboardMapping(1, keycode, 2, [keysym, keysym])
            self._assigned[keysym] = keycode
        return bool(missing)

    def _segments(self, keysyms: list[int]) -> list[list[int]]:
        """Cut the text so that no piece needs more rare characters than there are reserved keycodes."""
        capacity = len(self._spare) + len(self._assigned)
        pieces: list[list[int]] = [[]]
        rare: set[int] = set()
        for keysym in keysyms:
            if keysym not in self._strokes and keysym not in rare:
                if len(rare) == capacity:
                    pieces.append([])
                    rare = set()
                rare.add(keysym)
            pieces[-1].append(keysym)
        return pieces

    def resolve_name(self, name: str) -> int:
        if not isinstance(name, str):
            raise ValueError(f"a key name is a string, got {type(name).__name__}")  # noqa: TRY004 - actions raise ValueError
        lowered = name.lower() if len(name) > 1 else name
        if lowered in NAMED_KEYS:
            return keysym_of_name(NAMED_KEYS[lowered])
        if lowered in CHAR_KEYS:
            return keysym_of_char(lowered)
        raise ValueError(f"unknown key name {name!r}; use pyautogui names such as 'enter', 'ctrl', 'f5', 'a'")

    # -- validation -----------------------------------------------------------------------------------

    def check_point(self, x: int, y: int) -> tuple[int, int]:
        if not (0 <= int(x) < self.width and 0 <= int(y) < self.height):
            raise ValueError(f"({x}, {y}) is off the {self.width}x{self.height} screen")
        return int(x), int(y)

    def check_text(self, text: str) -> list[int]:
        """The keysyms of `text`, or ValueError naming the first character that cannot be typed."""
        return [keysym_of_char(ch) for ch in text]

    # -- events ---------------------------------------------------------------------------------------

    def _fake(self, kind: int, detail: int = 0, x: int = 0, y: int = 0) -> None:
        self._xtest.FakeInput(kind, detail, 0, self._root if kind == MOTION else 0, x, y, 0)

    def _round_trip(self) -> None:
        """Flush and wait for a reply: the server has handled every event sent before it."""
        self._conn.core.GetInputFocus().reply()

    def _tap(self, stroke: Stroke) -> None:
        if stroke.shift:
            self._fake(KEY_PRESS, self._shift)
        self._fake(KEY_PRESS, stroke.keycode)
        self._fake(KEY_RELEASE, stroke.keycode)
        if stroke.shift:
            self._fake(KEY_RELEASE, self._shift)

    def move(self, x: int, y: int) -> None:
        x, y = self.check_point(x, y)
        with self._lock:
            self._fake(MOTION, 0, x, y)
            self._round_trip()

    def click(self, x: int, y: int, button: str = "left", clicks: int = 1) -> None:
        x, y = self.check_point(x, y)
        if button not in BUTTONS:
            raise ValueError(f"button must be one of {tuple(BUTTONS)}, got {button!r}")
        with self._lock:
            self._fake(MOTION, 0, x, y)
            for _ in range(int(clicks)):
                self._fake(BUTTON_PRESS, BUTTONS[button])
                self._fake(BUTTON_RELEASE, BUTTONS[button])
            self._round_trip()

    def drag(self, x1: int, y1: int, x2: int, y2: int) -> None:
        """Press at the start, move in steps (toolkits start a drag only after motion), release at the end."""
        x1, y1 = self.check_point(x1, y1)
        x2, y2 = self.check_point(x2, y2)
        with self._lock:
            self._fake(MOTION, 0, x1, y1)
            self._fake(BUTTON_PRESS, BUTTONS["left"])
            self._round_trip()
            for step in range(1, DRAG_STEPS + 1):
                self._fake(MOTION, 0, x1 + (x2 - x1) * step // DRAG_STEPS, y1 + (y2 - y1) * step // DRAG_STEPS)
                self._round_trip()
            self._fake(BUTTON_RELEASE, BUTTONS["left"])
            self._round_trip()

    def scroll(self, amount: int, x: int | None = None, y: int | None = None) -> None:
        """Wheel notches: positive scrolls up."""
        if x is not None and y is not None:
            x, y = self.check_point(x, y)
        button = SCROLL_UP if amount > 0 else SCROLL_DOWN
        with self._lock:
            if x is not None and y is not None:
                self._fake(MOTION, 0, x, y)
            for _ in range(abs(int(amount))):
                self._fake(BUTTON_PRESS, button)
                self._fake(BUTTON_RELEASE, button)
            self._round_trip()

    def key(self, *names: str) -> None:
        """Press the keys in order and release them in reverse, like pyautogui.hotkey."""
        if not names:
            raise ValueError("key() needs at least one key name")
        keysyms = [self.resolve_name(name) for name in names]
        rare = {k for k in keysyms if k not in self._strokes}
        if len(rare) > len(self._spare) + len(self._assigned):
            raise ValueError(f"a chord can hold at most {len(self._spare) + len(self._assigned)} keys this keymap lacks")
        with self._lock:
            if self._map_rare(set(keysyms)):  # a named key this keymap lacks (Help, F24, ...)
                self._round_trip()
                time.sleep(RARE_KEYMAP_SETTLE)
            strokes = [self._stroke_for(keysym) for keysym in keysyms]
            wants_shift = any(s.shift for s in strokes) and not any(n.lower() in SHIFT_NAMES for n in names)
            pressed = ([self._shift] if wants_shift else []) + [s.keycode for s in strokes]
            for keycode in pressed:
                self._fake(KEY_PRESS, keycode)
            for keycode in reversed(pressed):
                self._fake(KEY_RELEASE, keycode)
            self._round_trip()

    def type_text(self, text: str, chunk: int = 64) -> None:
        """Type `text` character by character; a round trip every `chunk` keys keeps the server's queue short.

        Rare characters (outside the keymap and the preset) are mapped before their piece of text is typed,
        followed by a short pause: there is no way to observe when an application has re-read the keymap.
        """
        keysyms = self.check_text(text)
        with self._lock:
            for piece in self._segments(keysyms):
                if self._map_rare({k for k in piece if k not in self._strokes}):
                    self._round_trip()
                    time.sleep(RARE_KEYMAP_SETTLE)
                for index, keysym in enumerate(piece, start=1):
                    self._tap(self._stroke_for(keysym))
                    if index % chunk == 0:
                        self._round_trip()
                self._round_trip()

    def focus(self) -> int:
        """The window holding the keyboard focus (0 for none, 1 for pointer-root)."""
        with self._lock:
            return int(self._conn.core.GetInputFocus().reply().focus)
