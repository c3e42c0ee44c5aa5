"""Turning raw program output into observation text: bounded memory, no escapes, clean line endings."""

from __future__ import annotations

import re

# CSI and OSC sequences, two-character escapes, and the remaining C0 controls except tab and newline.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BoundedBuffer:
    """Keeps the first and last `limit // 2` bytes of a stream, counting what falls between."""

    def __init__(self, limit: int) -> None:
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > 2 * self.half:
                del self.tail[: len(self.tail) - self.half]

    @property
    def dropped(self) -> int:
        return self.total - len(self.head) - min(len(self.tail), self.half)

    def text(self) -> str:
        tail = bytes(self.tail[-self.half:]) if self.tail else b""
        head = bytes(self.head).decode("utf-8", "replace")
        if self.dropped > 0:
            return head + f"\n[... {self.dropped} bytes of output cut ...]\n" + tail.decode("utf-8", "replace")
        return head + tail.decode("utf-8", "replace")


def clean_terminal_text(raw: str) -> str:
    """Strip ANSI escapes, normalise line endings, and apply carriage returns the way a terminal shows them."""
    text = _ANSI.sub("", raw).replace("\r\n", "\n")
    if "\r" in text:
        text = "\n".join(line.rsplit("\r", 1)[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r")
                         for line in text.split("\n"))
    return _CONTROL.sub("", text)


def cut_middle(text: str, budget: int) -> str:
    """Keep the head and tail of `text` within `budget` characters, with a marker saying how much was cut."""
    if len(text) <= budget:
        return text
    marker_room = 64
    keep = max(0, budget - marker_room)
    head, tail = keep // 2, keep - keep // 2
    cut = len(text) - head - tail
    marker = f"\n[... {cut} characters cut ...]\n"
    return text[:head] + marker + (text[len(text) - tail:] if tail else "")
