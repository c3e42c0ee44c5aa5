"""Unicode text spaces: contains, sample, and the shared-memory codec used by async vector envs."""

from __future__ import annotations

import copy
import multiprocessing as mp

from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

from ale_gym.spaces import UnicodeText, observation_space

PRINTED = "total 8\n-rw-r--r-- 1 agent\tstaff  é ü ß 中文 ✓ \"quotes\" 'single' $HOME {braces}\n"


def test_contains_accepts_any_unicode_within_budget():
    space = UnicodeText(200)
    assert space.contains(PRINTED)
    assert space.contains("")
    assert not space.contains("x" * 201)
    assert not space.contains(b"bytes")


def test_sample_is_contained():
    space = UnicodeText(30, seed=1)
    assert all(space.contains(space.sample()) for _ in range(100))


def test_shared_memory_round_trips_unicode_exactly():
    space = UnicodeText(200)
    memory = create_shared_memory(space, n=3, ctx=mp)
    values = [PRINTED, "", "x" * 200]
    for index, value in enumerate(values):
        write_to_shared_memory(space, index, value, memory)
    view = read_from_shared_memory(space, memory, n=3)
    assert tuple(view) == tuple(values)
    write_to_shared_memory(space, 0, "short", memory)
    assert view[0] == "short"  # a live view, like the array views of Box spaces
    assert copy.deepcopy(view) == ("short", "", "x" * 200)


def test_observation_space_keys_and_shapes():
    space = observation_space(320, 200, terminal_chars=100, files_chars=50, instruction_chars=70)
    assert set(space.spaces) == {"screenshot", "terminal", "files", "instruction"}
    assert space["screenshot"].shape == (200, 320, 3)
