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
    """Keeps the recent transcript and renders its tail to an (H, W, 3) uint8 frame."""

    def __init__(self, width: int, height: int, max_lines: int = 400) -> None:
        self.width = width
        self.height = height
        self.max_lines = max_lines
        self.lines: list[tuple[str, bool]] = []
        self._frame: np.ndarray | None = None

    def clear(self) -> None:
        self.lines = []
        self._frame = None

    def append(self, text: str, *, command: bool = False) -> None:
        font = _font()
        cell = max(1, int(font.getlength("M")))
        columns = max(10, (self.width - 16) // cell)
        for raw in text.split("\n"):
            raw = raw.expandtabs(4)
            for start in range(0, max(1, len(raw)), columns):
                self.lines.append((raw[start:start + columns], command))
        del self.lines[: max(0, len(self.lines) - self.max_lines)]
        self._frame = None

    def render(self) -> np.ndarray:
        if self._frame is None:
            image = Image.new("RGB", (self.width, self.height), BACKGROUND)
            draw = ImageDraw.Draw(image)
            font = _font()
            line_height = FONT_SIZE + 4
            visible = self.lines[-max(1, (self.height - 16) // line_height):]
            for row, (line, is_command) in enumerate(visible):
                draw.text((8, 8 + row * line_height), line, font=font, fill=COMMAND if is_command else FOREGROUND)
            self._frame = np.asarray(image, dtype=np.uint8)
        return self._frame
