"""A G-code interpreter for the common Fanuc/LinuxCNC milling dialect, down to straight tool-tip moves.

Why: a checker must recompute what a program makes the machine do (every arc chord, every peck of a
drilling cycle) instead of trusting comments or claims, and it must do so for 100 000-line programs in
a few seconds. So the interpreter is a small, strict state machine over the words of each block, and it
emits the motion as numpy arrays of straight segments that a material-removal simulation and vectorised
rule checks consume. Anything outside the supported dialect is reported, never guessed.

Supported: G0 G1 G2 G3 (I J or R, helical Z) G4 G17 G21 G40 G43 G49 G54 G80 G81 G83 G90 G94 G98 G99,
M3 M5 M6 M8 M9 M30, T S F H P Q R X Y Z I J N, an O program number, `%`, `( )` and `;` comments.
M6 stops the spindle and the coolant and lifts Z to the tool-change height (like most mills with an
orienting spindle), so the spindle must be restarted after each change.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

SUPPORTED_G = frozenset({0, 1, 2, 3, 4, 17, 21, 40, 43, 49, 54, 80, 81, 83, 90, 94, 98, 99})
SUPPORTED_M = frozenset({3, 5, 6, 8, 9, 30})
ALLOWED_LETTERS = frozenset("GMTSFHPQRXYZIJN")
MOTION_G = {0, 1, 2, 3, 80, 81, 83}
MAX_ERRORS = 50

_BLOCK = re.compile(r"(?:[A-Z][-+]?(?:\d+\.?\d*|\.\d+))*")
_WORD = re.compile(r"([A-Z])([-+]?(?:\d+\.?\d*|\.\d+))")
_COMMENT = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class MachineSetup:
    """What the controller knows before the program starts."""

    home: tuple[float, float, float] = (0.0, 0.0, 100.0)  # start position; M6 lifts Z to home[2]
    tools: frozenset[int] | None = None  # tool numbers in the magazine; None accepts any
    arc_tolerance: float = 0.002  # chord error of linearised arcs, mm
    peck_clearance: float = 0.25  # G83 re-entry stops this far above the previous peck, mm
    max_segments: int = 5_000_000


@dataclass
class Program:
    """The motion of a program as arrays (one row per straight segment) plus what the checks need."""

    errors: list[tuple[int, str]]
    start: np.ndarray  # (n, 3) segment start points
    end: np.ndarray  # (n, 3) segment end points
    rapid: np.ndarray  # bool: G0, a cycle's rapid, or the automatic M6 lift
    reentry: np.ndarray  # bool: a G83 rapid back down into the hole it is drilling
    tool: np.ndarray  # int: loaded tool number, 0 when none
    spindle: np.ndarray  # float: spindle speed in rpm, 0 when stopped
    feed: np.ndarray  # float: programmed feed in mm/min (0 when none yet)
    line: np.ndarray  # int: 1-based source line number
    lines: int = 0
    tool_changes: list[tuple[int, int]] = field(default_factory=list)  # (line, tool)
    first_motion_line: int | None = None
    modes_before_motion: set[str] = field(default_factory=set)  # of "G21", "G90", "G17"
    ends_with_m30: bool = False
    dwell_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def __len__(self) -> int:
        return len(self.line)


class _Rows:
    """Growing columns of moves; arcs are kept as one row each and expanded into chords at the end."""

    def __init__(self) -> None:
        self.cols: dict[str, list] = {k: [] for k in (
            "x0", "y0", "z0", "x1", "y1", "z1", "rapid", "reentry", "tool", "spindle", "feed", "line",
            "cx", "cy", "sweep", "chords")}
        self.segments = 0

    def add(self, a: tuple[float, float, float], b: tuple[float, float, float], *, rapid: bool, tool: int,
            spindle: float, feed: float, line: int, reentry: bool = False,
            arc: tuple[float, float, float, int] = (0.0, 0.0, 0.0, 1)) -> None:
        values = (*a, *b, rapid, reentry, tool, spindle, feed, line, *arc)
        for column, value in zip(self.cols.values(), values, strict=True):
            column.append(value)
        self.segments += arc[3]

    def count(self) -> int:
        return self.segments


def _expand(rows: _Rows) -> dict[str, np.ndarray]:
    """Turn rows into segment arrays, replacing each arc row by its chords (vectorised)."""
    c = {k: np.asarray(v) for k, v in rows.cols.items()}
    n = len(c["line"])
    if n == 0:
        empty = np.zeros(0)
        return {"start": np.zeros((0, 3)), "end": np.zeros((0, 3)), "rapid": empty.astype(bool),
                "reentry": empty.astype(bool), "tool": empty.astype(np.int32), "spindle": empty,
                "feed": empty, "line": empty.astype(np.int32)}
    chords = c["chords"].astype(np.int64)
    owner = np.repeat(np.arange(n), chords)
    first = np.cumsum(chords) - chords
    k = np.arange(owner.size) - first[owner]
    nk = chords[owner]
    t0 = k / nk
    t1 = (k + 1) / nk
    x0, y0, z0 = c["x0"][owner], c["y0"][owner], c["z0"][owner]
    x1, y1, z1 = c["x1"][owner], c["y1"][owner], c["z1"][owner]
    is_arc = c["sweep"][owner] != 0.0
    start = np.empty((owner.size, 3))
    end = np.empty((owner.size, 3))
    start[:, 2] = z0 + (z1 - z0) * t0
    end[:, 2] = z0 + (z1 - z0) * t1
    start[:, 0], start[:, 1] = x0, y0
    end[:, 0], end[:, 1] = x1, y1
    if is_arc.any():
        sel = np.nonzero(is_arc)[0]
        cx, cy, sweep = c["cx"][owner[sel]], c["cy"][owner[sel]], c["sweep"][owner[sel]]
        ax, ay, bx, by = x0[sel], y0[sel], x1[sel], y1[sel]
        r0 = np.hypot(ax - cx, ay - cy)
        r1 = np.hypot(bx - cx, by - cy)
        a0 = np.arctan2(ay - cy, ax - cx)
        for t, out in ((t0[sel], start), (t1[sel], end)):
            ang = a0 + sweep * t
            rad = r0 + (r1 - r0) * t
            out[sel, 0] = cx + rad * np.cos(ang)
            out[sel, 1] = cy + rad * np.sin(ang)
        last = sel[k[sel] == nk[sel] - 1]
        end[last, 0], end[last, 1] = x1[last], y1[last]
    return {
        "start": start, "end": end, "rapid": c["rapid"][owner].astype(bool),
        "reentry": c["reentry"][owner].astype(bool), "tool": c["tool"][owner].astype(np.int32),
        "spindle": c["spindle"][owner].astype(float), "feed": c["feed"][owner].astype(float),
        "line": c["line"][owner].astype(np.int32),
    }


def _chords(radius: float, sweep: float, tolerance: float) -> int:
    if radius <= tolerance:
        return 1
    step = 2.0 * math.acos(max(-1.0, 1.0 - tolerance / radius))
    return max(1, math.ceil(abs(sweep) / step))


def _split_block(raw: str) -> tuple[str, str | None]:
    """Strip comments and spaces; return (words, error)."""
    text = raw
    if ";" in text:
        text = text.split(";", 1)[0]
    if "(" in text or ")" in text:
        text = _COMMENT.sub("", text)
        if "(" in text or ")" in text:
            return "", "unbalanced or nested comment parentheses"
    text = "".join(text.split()).upper()
    return text, None


class _Interpreter:
    """The controller state while walking the program block by block."""

    def __init__(self, setup: MachineSetup) -> None:
        self.setup = setup
        self.rows = _Rows()
        self.errors: list[tuple[int, str]] = []
        self.pos = tuple(float(v) for v in setup.home)
        self.motion: int | None = None
        self.feed = 0.0
        self.speed = 0.0
        self.spindle_on = False
        self.tool = 0
        self.pending_tool: int | None = None
        self.modes: set[str] = set()
        self.modes_before_motion: set[str] | None = None
        self.first_motion_line: int | None = None
        self.retract_r = False  # G99 when True, G98 otherwise
        self.cycle_z: float | None = None
        self.cycle_r: float | None = None
        self.cycle_q: float | None = None
        self.cycle_initial_z: float | None = None
        self.tool_changes: list[tuple[int, int]] = []
        self.ended_at: int | None = None
        self.dwell = 0.0

    def error(self, line: int, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((line, message))

    @property
    def rpm(self) -> float:
        return self.speed if self.spindle_on else 0.0

    def move(self, target: tuple[float, float, float], line: int, *, rapid: bool, reentry: bool = False) -> None:
        if self.first_motion_line is None:
            self.first_motion_line = line
            self.modes_before_motion = set(self.modes)
        if target != self.pos:
            self.rows.add(self.pos, target, rapid=rapid, tool=self.tool, spindle=self.rpm,
                          feed=self.feed, line=line, reentry=reentry)
        self.pos = target

    def run(self, text: str) -> None:
        lines = text.splitlines()
        seen_words = False
        for number, raw in enumerate(lines, start=1):
            words, problem = _split_block(raw)
            if problem:
                self.error(number, problem)
                continue
            if not words:
                continue
            if words == "%":
                continue
            if self.ended_at is not None:
                self.error(number, "words after M30 (the program must end with M30)")
                self.ended_at = None
                continue
            if not seen_words and words.startswith("O") and re.fullmatch(r"O\d+", words):
                seen_words = True
                continue
            seen_words = True
            if not _BLOCK.fullmatch(words):
                self.error(number, f"cannot read the block {raw.strip()[:60]!r}")
                continue
            self.block(number, _WORD.findall(words))
            if self.rows.count() > self.setup.max_segments:
                self.error(number, f"more than {self.setup.max_segments} motion segments; too long to verify")
                break

    def block(self, line: int, pairs: list[tuple[str, str]]) -> None:
        gs: list[int] = []
        ms: list[int] = []
        values: dict[str, float] = {}
        for letter, number in pairs:
            if letter not in ALLOWED_LETTERS:
                self.error(line, f"unsupported word {letter}{number}")
                return
            value = float(number)
            if not abs(value) < 1e6:
                self.error(line, f"number out of range in {letter}{number[:20]}")
                return
            if letter in "GM":
                if value != int(value):
                    self.error(line, f"unsupported word {letter}{number}")
                    return
                code = int(value)
                if (code not in SUPPORTED_G) if letter == "G" else (code not in SUPPORTED_M):
                    self.error(line, f"unsupported word {letter}{code}")
                    return
                (gs if letter == "G" else ms).append(code)
            else:
                if letter in values:
                    self.error(line, f"word {letter} appears twice in one block")
                    return
                values[letter] = value
        values.pop("N", None)
        motions = [g for g in gs if g in MOTION_G]
        if len(motions) > 1:
            self.error(line, f"two motion codes in one block: {motions}")
            return
        if len(set(gs)) != len(gs) or len(set(ms)) != len(ms):
            self.error(line, "a G or M code repeated in one block")
            return
        # Order of execution within a block, as in LinuxCNC: F, S, T, M6, M3/M5, coolant, G4, modes, motion, M30.
        if "F" in values:
            if values["F"] <= 0:
                self.error(line, "F must be positive")
                return
            self.feed = values["F"]
        if "S" in values:
            if values["S"] < 0:
                self.error(line, "S must not be negative")
                return
            self.speed = values["S"]
        if "T" in values:
            t = values["T"]
            if t != int(t) or t < 0:
                self.error(line, f"T{t:g} is not a tool number")
                return
            if self.setup.tools is not None and int(t) not in self.setup.tools and int(t) != 0:
                self.error(line, f"T{int(t)} is not in the tool crib")
                return
            self.pending_tool = int(t)
        if 6 in ms:
            if self.pending_tool is None:
                self.error(line, "M6 without a T word selecting the tool")
                return
            self.spindle_on = False
            lift = (self.pos[0], self.pos[1], float(self.setup.home[2]))
            if lift[2] > self.pos[2]:
                self.move_quiet(lift, line)
            self.tool = self.pending_tool
            self.tool_changes.append((line, self.tool))
        if 3 in ms and 5 in ms:
            self.error(line, "M3 and M5 in one block")
            return
        if 3 in ms:
            if self.tool == 0:
                self.error(line, "M3 with no tool loaded")
                return
            if self.speed <= 0:
                self.error(line, "M3 without a positive S")
                return
            self.spindle_on = True
        if 5 in ms:
            self.spindle_on = False
        if 4 in gs:
            if "P" not in values or values["P"] < 0:
                self.error(line, "G4 needs P seconds")
                return
            self.dwell += values["P"]
        for code, name in ((17, "G17"), (21, "G21"), (90, "G90")):
            if code in gs:
                self.modes.add(name)
        if 43 in gs:
            if "H" not in values or int(values["H"]) != self.tool or self.tool == 0:
                self.error(line, "G43 needs H equal to the loaded tool number")
                return
        if 98 in gs:
            self.retract_r = False
        if 99 in gs:
            self.retract_r = True
        has_axes = any(a in values for a in "XYZ")
        if motions:
            new = motions[0]
            if new in (81, 83) and self.motion not in (81, 83):
                self.cycle_initial_z = self.pos[2]
                self.cycle_q = None
            if new == 80:
                self.cycle_z = self.cycle_r = self.cycle_q = self.cycle_initial_z = None
            self.motion = new
        if 4 in gs and has_axes:
            self.error(line, "G4 with axis words")
            return
        if has_axes or (motions and motions[0] in (2, 3) and ("I" in values or "J" in values)):
            self.motion_block(line, values)
        elif motions and motions[0] in (81, 83) and any(k in values for k in "RQ"):
            self.motion_block(line, values, setup_only=True)
        if 30 in ms:
            self.spindle_on = False
            self.ended_at = line

    def move_quiet(self, target: tuple[float, float, float], line: int) -> None:
        """A machine-generated rapid (the M6 lift), which does not count as the program's first motion."""
        self.rows.add(self.pos, target, rapid=True, tool=self.tool, spindle=self.rpm, feed=self.feed, line=line)
        self.pos = target

    def motion_block(self, line: int, values: dict[str, float], setup_only: bool = False) -> None:
        mode = self.motion
        if mode is None or mode == 80:
            self.error(line, "axis words with no motion mode (G0/G1/G2/G3/G81/G83) in effect")
            return
        x = values.get("X", self.pos[0])
        y = values.get("Y", self.pos[1])
        z = values.get("Z", self.pos[2])
        target = (x, y, z)
        if mode == 0:
            self.move(target, line, rapid=True)
        elif mode == 1:
            if self.feed <= 0:
                self.error(line, "feed move before any F word")
                return
            self.move(target, line, rapid=False)
        elif mode in (2, 3):
            self.arc(line, mode, target, values)
        else:
            self.cycle(line, mode, values, setup_only)

    def arc(self, line: int, mode: int, target: tuple[float, float, float], values: dict[str, float]) -> None:
        if self.feed <= 0:
            self.error(line, "arc move before any F word")
            return
        sx, sy, sz = self.pos
        ex, ey, ez = target
        if "R" in values:
            if "I" in values or "J" in values:
                self.error(line, "arc with both R and I/J")
                return
            radius = values["R"]
            half = math.hypot(ex - sx, ey - sy) / 2.0
            if half < 1e-9 or abs(radius) < 1e-9:
                self.error(line, "R-format arc needs distinct end points and a radius")
                return
            if abs(radius) < half - 1e-4:
                self.error(line, f"arc radius {abs(radius):g} is smaller than half the chord {half:.4f}")
                return
            offset = math.sqrt(max(0.0, radius * radius - half * half))
            mx, my = (sx + ex) / 2.0, (sy + ey) / 2.0
            ux, uy = (ex - sx) / (2 * half), (ey - sy) / (2 * half)
            side = (1.0 if mode == 2 else -1.0) * (1.0 if radius > 0 else -1.0)
            cx, cy = mx + side * offset * uy, my - side * offset * ux
        else:
            if "I" not in values and "J" not in values:
                self.error(line, "arc needs I/J or R")
                return
            cx, cy = sx + values.get("I", 0.0), sy + values.get("J", 0.0)
        r0 = math.hypot(sx - cx, sy - cy)
        r1 = math.hypot(ex - cx, ey - cy)
        if r0 < 1e-6:
            self.error(line, "arc of zero radius")
            return
        if abs(r0 - r1) > max(0.01, 0.001 * r0):
            self.error(line, f"arc radius to start {r0:.4f} and to end {r1:.4f} differ")
            return
        a0 = math.atan2(sy - cy, sx - cx)
        a1 = math.atan2(ey - cy, ex - cx)
        if mode == 3:
            sweep = (a1 - a0) % (2 * math.pi)
            if sweep < 1e-12 and "R" not in values:
                sweep = 2 * math.pi
        else:
            sweep = -((a0 - a1) % (2 * math.pi))
            if sweep > -1e-12 and "R" not in values:
                sweep = -2 * math.pi
        if abs(sweep) < 1e-12:
            self.error(line, "arc with no sweep")
            return
        if self.first_motion_line is None:
            self.first_motion_line = line
            self.modes_before_motion = set(self.modes)
        chords = _chords(max(r0, r1), sweep, self.setup.arc_tolerance)
        self.rows.add(self.pos, target, rapid=False, tool=self.tool, spindle=self.rpm, feed=self.feed,
                      line=line, arc=(cx, cy, sweep, chords))
        self.pos = target

    def cycle(self, line: int, mode: int, values: dict[str, float], setup_only: bool) -> None:
        if "Z" in values:
            self.cycle_z = values["Z"]
        if "R" in values:
            self.cycle_r = values["R"]
        if "Q" in values:
            self.cycle_q = values["Q"]
        if setup_only and not any(a in values for a in "XY"):
            return
        if self.cycle_z is None or self.cycle_r is None:
            self.error(line, f"G{mode} needs Z and R")
            return
        if self.cycle_z >= self.cycle_r:
            self.error(line, f"G{mode} bottom Z{self.cycle_z:g} is not below R{self.cycle_r:g}")
            return
        if mode == 83 and (self.cycle_q is None or self.cycle_q <= 0):
            self.error(line, "G83 needs a positive Q peck depth")
            return
        if self.feed <= 0:
            self.error(line, f"G{mode} before any F word")
            return
        x = values.get("X", self.pos[0])
        y = values.get("Y", self.pos[1])
        r, bottom = self.cycle_r, self.cycle_z
        initial = self.cycle_initial_z if self.cycle_initial_z is not None else self.pos[2]
        clear = r if self.retract_r else max(initial, r)
        if self.pos[2] < r:
            self.move((self.pos[0], self.pos[1], r), line, rapid=True)
        self.move((x, y, self.pos[2]), line, rapid=True)
        self.move((x, y, r), line, rapid=True)
        if mode == 81:
            self.move((x, y, bottom), line, rapid=False)
        else:
            depth = r
            first = True
            while depth > bottom + 1e-9:
                target = max(depth - self.cycle_q, bottom)
                if not first:
                    self.move((x, y, depth + self.setup.peck_clearance), line, rapid=True, reentry=True)
                self.move((x, y, target), line, rapid=False)
                depth = target
                first = False
                if depth > bottom + 1e-9:
                    self.move((x, y, r), line, rapid=True)
                if self.rows.count() > self.setup.max_segments:
                    self.error(line, "G83 with too many pecks")
                    return
        self.move((x, y, clear), line, rapid=True)


def interpret(text: str, setup: MachineSetup | None = None) -> Program:
    """Interpret a whole program; errors are collected (with line numbers), never raised."""
    machine = _Interpreter(setup or MachineSetup())
    machine.run(text)
    errors = list(machine.errors)
    arrays = _expand(machine.rows) if machine.rows.count() <= machine.setup.max_segments else _expand(_Rows())
    return Program(
        errors=errors,
        lines=text.count("\n") + 1,
        tool_changes=machine.tool_changes,
        first_motion_line=machine.first_motion_line,
        modes_before_motion=machine.modes_before_motion if machine.modes_before_motion is not None else set(machine.modes),
        ends_with_m30=machine.ended_at is not None,
        dwell_seconds=machine.dwell,
        **arrays,
    )


def cycle_time(program: Program, rapid_rate: float, tool_change_seconds: float) -> float:
    """Seconds to run the program: path length over feed (rapids at the rapid rate), tool changes, dwells."""
    length = np.linalg.norm(program.end - program.start, axis=1)
    rate = np.where(program.rapid, rapid_rate, np.maximum(program.feed, 1e-9))
    return float(np.sum(length / rate) * 60.0 + tool_change_seconds * len(program.tool_changes) + program.dwell_seconds)
