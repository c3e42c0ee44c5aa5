"""Desktop latency against raw baselines measured in the same run.

    python benchmarks/bench_desktop.py [--repeats 200] [--sandbox bwrap|none]

Rows: the screenshot that goes into the observation (Desktop.screenshot, RGB array) against a raw mss
grab of the same display (BGRA bytes) and against that grab turned into a numpy array; a click, a key chord and 20 typed characters through
Desktop.perform against one raw XTEST key tap with a round trip; a GUI step through env.step; and reset
with a desktop against reset with gui=False (both without the task's generator). Prints medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import mss
import numpy as np
import xcffib
import xcffib.xproto
import xcffib.xtest

os.environ.setdefault("ALE_GYM_TASK_PATH", str(Path(__file__).resolve().parent.parent / "tests" / "task_pack"))

import ale_gym  # noqa: E402,F401
from ale_gym import actions as A  # noqa: E402
from ale_gym.runtime.desktop import Desktop  # noqa: E402

TASK = "ALE/Word-Stats-v0"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def raw_key_tap(display: str) -> Callable[[], None]:
    """One XTEST press and release of Shift with a round trip, on a connection of our own."""
    connection = xcffib.connect(display=display)
    xtest = connection(xcffib.xtest.key)
    shift = 50

    def tap() -> None:
        xtest.FakeInput(2, shift, 0, 0, 0, 0, 0)
        xtest.FakeInput(3, shift, 0, 0, 0, 0, 0)
        connection.core.GetInputFocus().reply()

    return tap


def desktop_rows(repeats: int) -> list[tuple[str, float, float]]:
    with Desktop(1280, 800) as desk:
        desk.launch(["xterm", "-T", "bench", "-geometry", "120x40", "-e", "sh", "-c", "cat > /dev/null"],
                    {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"})
        window = desk.wait_for_window("^bench$")
        monitor = {"left": 0, "top": 0, "width": 1280, "height": 800}
        with mss.MSS(display=desk.display) as grabber:
            raw_grab = timed(lambda: grabber.grab(monitor), repeats)
            raw_array = timed(lambda: np.array(grabber.grab(monitor)), repeats)
            ours = timed(desk.screenshot, repeats)
        tap = raw_key_tap(desk.display)
        raw_tap = timed(tap, repeats)
        x, y = window.x + 50, window.y + 50
        click = timed(lambda: desk.perform(A.click(x, y)), repeats)
        chord = timed(lambda: desk.perform(A.key("shift", "a")), repeats)
        typing = timed(lambda: desk.perform(A.type_text("abcdefghij0123456789")), max(10, repeats // 4))
    return [
        ("screenshot -> RGB array vs raw grab", median_ms(ours), median_ms(raw_grab)),
        ("screenshot vs raw grab -> BGRA ndarray", median_ms(ours), median_ms(raw_array)),
        ("click through Desktop.perform", median_ms(click), median_ms(raw_tap)),
        ("key chord shift+a", median_ms(chord), median_ms(raw_tap)),
        ("type_text 20 characters", median_ms(typing), median_ms(raw_tap) * 20),
    ]


def env_rows(repeats: int, sandbox: str) -> list[tuple[str, float, float]]:
    def resets(gui: bool) -> tuple[list[float], gym.Env]:
        env = gym.make(TASK, sandbox=sandbox, gui=gui, max_steps=10**6)
        samples = []
        for seed in range(max(5, repeats // 20)):
            _, info = env.reset(seed=seed)
            samples.append(info["timings"]["reset"] - info["timings"]["generate"])
        return samples, env

    text_resets, text_env = resets(False)
    text_env.close()
    gui_resets, gui_env = resets(True)
    gui_step = timed(lambda: gui_env.step(A.move(20, 20)), repeats)
    grab = timed(gui_env.unwrapped._desktop.screenshot, repeats)
    gui_env.close()
    return [
        ("env.step(move) with the desktop", median_ms(gui_step), median_ms(grab)),
        ("reset gui=True vs gui=False (no gen.)", median_ms(gui_resets), median_ms(text_resets)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--sandbox", default="bwrap")
    args = parser.parse_args()
    rows = desktop_rows(args.repeats) + env_rows(args.repeats, args.sandbox)
    print(f"sandbox={args.sandbox}  repeats={args.repeats}  (baseline: raw mss grab / raw XTEST tap / screenshot / gui=False)")
    print(f"{'measure':40s} {'median ms':>10s} {'base ms':>8s} {'ratio':>6s}")
    for name, value, base in rows:
        print(f"{name:40s} {value:10.3f} {base:8.3f} {value / base:6.2f}")


if __name__ == "__main__":
    main()
