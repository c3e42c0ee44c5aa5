"""Observation and action spaces, with a Text space that accepts any Unicode a tool prints.

Gymnasium's `Text` only accepts an alphanumeric charset and its shared-memory codec maps characters
through that charset, so terminal output with spaces, tabs or accents would be rejected, or read back
stale from an async vector env. `UnicodeText` fixes both: `contains` accepts any `str` within the length
budget, and the shared-memory codec stores code points.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import shared_memory as _shm

# Printable samples: ASCII letters, punctuation, whitespace and a few accented letters.
_SAMPLE_ALPHABET = tuple(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_/=+()[]{}'\"\t\néèüßçñ"
)


class UnicodeText(spaces.Text):
    """A Text space for arbitrary Unicode strings up to `max_length` characters."""

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None) -> None:
        super().__init__(max_length=max_length, min_length=min_length, charset="a", seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def sample(self, mask: Any = None, probability: Any = None) -> str:  # noqa: ARG002 - Gymnasium signature
        """A short random string of printable characters (masks are not supported for free text)."""
        length = int(self.np_random.integers(self.min_length, min(self.max_length, 64) + 1))
        picks = self.np_random.integers(0, len(_SAMPLE_ALPHABET), size=length)
        return "".join(_SAMPLE_ALPHABET[i] for i in picks)

    def __repr__(self) -> str:
        return f"UnicodeText(max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnicodeText) and other.max_length == self.max_length and other.min_length == self.min_length

    def __hash__(self) -> int:
        return hash((UnicodeText, self.max_length, self.min_length))


@_shm.create_shared_memory.register(UnicodeText)
def _create_unicode_shared_memory(space: UnicodeText, n: int = 1, ctx: ModuleType = mp) -> Any:
    # One slot per character plus a length slot, so strings round-trip exactly.
    return ctx.Array(np.dtype(np.int32).char, n * (space.max_length + 1))


class SharedTextView(Sequence[str]):
    """A live view of n strings in shared memory, like the array views Gymnasium keeps for Boxes.

    AsyncVectorEnv reads its shared buffers once, at construction, and deep-copies that result after
    every step; strings decoded at construction would be stale forever. This view decodes on access,
    and a deep copy freezes the current strings into a tuple.
    """

    def __init__(self, data: np.ndarray) -> None:
        self._data = data

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        row = self._data[index]
        return row[1 : 1 + row[0]].tobytes().decode("utf-32-le")

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (tuple, SharedTextView)) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return f"SharedTextView({tuple(self)!r})"


@_shm.read_from_shared_memory.register(UnicodeText)
def _read_unicode_from_shared_memory(space: UnicodeText, shared_memory: Any, n: int = 1) -> SharedTextView:
    return SharedTextView(np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape((n, space.max_length + 1)))


@_shm.write_to_shared_memory.register(UnicodeText)
def _write_unicode_to_shared_memory(space: UnicodeText, index: int, values: str, shared_memory: Any) -> None:
    size = space.max_length + 1
    destination = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)
    codes = np.frombuffer(values.encode("utf-32-le"), dtype=np.int32)
    destination[index * size] = len(codes)
    destination[index * size + 1 : index * size + 1 + len(codes)] = codes


def observation_space(width: int, height: int, *, terminal_chars: int, files_chars: int, instruction_chars: int) -> spaces.Dict:
    """The fixed-key observation: screen, terminal text, workspace listing, instruction."""
    return spaces.Dict(
        {
            "screenshot": spaces.Box(0, 255, shape=(height, width, 3), dtype=np.uint8),
            "terminal": UnicodeText(terminal_chars),
            "files": UnicodeText(files_chars),
            "instruction": UnicodeText(instruction_chars),
        }
    )
