"""The screen of an episode without a desktop: its terminal transcript drawn with Pillow.

Every frame then means something to a vision model and to a video recorder, at the same size as the
desktop would be.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
)
FONT_SIZE = 14
BACKGROUND = (18, 18, 18)
FOREGROUND = (220, 220, 220)
COMMAND = (120, 200, 120)


@lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return ImageFont.truetype(candidate, FONT_SIZE)
    return ImageFont.load_default(size=FONT_SIZE)


class TerminalFrame:
    """A scrolling terminal drawn into a numpy canvas: appending draws only the new lines."""

    MARGIN = 8

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        font = _font()
        self.line_height = FONT_SIZE + 4
        self.columns = max(10, (width - 2 * self.MARGIN) // max(1, int(font.getlength("M"))))
        self.capacity = max(1, (height - 2 * self.MARGIN) // self.line_height)
        self._blank = np.empty((height, width, 3), dtype=np.uint8)
        self._blank[:] = BACKGROUND
        self.canvas = self._blank.copy()
        self.rows_used = 0

    def clear(self) -> None:
        np.copyto(self.canvas, self._blank)
        self.rows_used = 0

    def _wrap(self, text: str) -> list[str]:
        lines = []
        for raw in text.split("\n"):
            raw = raw.expandtabs(4)
            lines.extend(raw[start:start + self.columns] for start in range(0, max(1, len(raw)), self.columns))
        return lines

    def append(self, text: str, *, command: bool = False) -> None:
        lines = self._wrap(text)[-self.capacity:]
        overflow = self.rows_used + len(lines) - self.capacity
        top, step = self.MARGIN, self.line_height
        if overflow > 0:
            remaining = self.rows_used - overflow  # old rows that stay visible, scrolled up
            if remaining > 0:
                self.canvas[top:top + remaining * step] = self.canvas[top + overflow * step:top + self.rows_used * step]
            self.canvas[top + remaining * step:top + self.capacity * step] = self._blank[top + remaining * step:top + self.capacity * step]
            self.rows_used = remaining
        colour = COMMAND if command else FOREGROUND
        for line in lines:
            y = top + self.rows_used * step
            self.canvas[y:y + step] = self._draw_line(line, colour)
            self.rows_used += 1

    def _draw_line(self, line: str, colour: tuple[int, int, int]) -> np.ndarray:
        strip = Image.new("RGB", (self.width, self.line_height), BACKGROUND)
        if line.strip():
            ImageDraw.Draw(strip).text((self.MARGIN, 2), line, font=_font(), fill=colour)
        return np.asarray(strip, dtype=np.uint8)

    def render(self) -> np.ndarray:
        """The current frame (the live canvas: copy it before keeping it)."""
        return self.canvas
