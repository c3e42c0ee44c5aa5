"""Randomised, phase-structured stimulus for the hidden regression.

Uniform noise rarely reaches the corners where bugs hide (a full FIFO read and written at once, frames sent
back to back, a reset pulse while a byte is handed over), so each design draws traffic in phases with
different densities, and may look at the reference model's state to aim a reset at a corner.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .models import Model


def _phases(rng: np.random.Generator, modes: list[str], weights: list[float], low: int, high: int) -> Iterator[str]:
    p = np.asarray(weights, dtype=float) / sum(weights)
    while True:
        mode = modes[int(rng.choice(len(modes), p=p))]
        for _ in range(int(rng.integers(low, high))):
            yield mode


class _Resets:
    """Power-on reset, then rare pulses of one to three cycles."""

    def __init__(self, rng: np.random.Generator, rate: float) -> None:
        self.rng, self.rate, self.left = rng, rate, 2

    def rst_n(self) -> int:
        if self.left == 0 and self.rng.random() < self.rate:
            self.left = int(self.rng.integers(1, 4))
        if self.left:
            self.left -= 1
            return 0
        return 1


def fifo_stimulus(params: dict[str, int], rng: np.random.Generator) -> Iterator[dict[str, int]]:
    probabilities = {"fill": (0.9, 0.1), "drain": (0.1, 0.9), "mixed": (0.5, 0.5), "stream": (0.8, 0.8),
                     "both": (1.0, 0.6), "idle": (0.05, 0.05)}
    phases = _phases(rng, list(probabilities), [3, 2, 3, 3, 2, 1], 20, 120)
    resets = _Resets(rng, 0.002)
    while True:
        p_write, p_read = probabilities[next(phases)]
        yield {"rst_n": resets.rst_n(), "wr_en": int(rng.random() < p_write),
               "din": int(rng.integers(0, 1 << params["WIDTH"])), "rd_en": int(rng.random() < p_read)}


def arbiter_stimulus(params: dict[str, int], rng: np.random.Generator) -> Iterator[dict[str, int]]:
    n = params["N"]
    phases = _phases(rng, ["sparse", "dense", "all", "pair", "single", "idle"], [2, 3, 2, 2, 1, 1], 10, 60)
    resets = _Resets(rng, 0.004)
    chosen = [0, 1]
    mode = ""
    while True:
        previous, mode = mode, next(phases)
        if mode != previous:
            chosen = [int(i) for i in rng.choice(n, size=2, replace=False)]
        if mode == "all":
            req = (1 << n) - 1
        elif mode == "pair":
            req = (1 << chosen[0]) | (1 << chosen[1])
        elif mode == "single":
            req = 1 << chosen[0]
        elif mode == "idle":
            req = 0
        else:
            density = 0.2 if mode == "sparse" else 0.7
            req = sum(1 << i for i in range(n) if rng.random() < density)
        yield {"rst_n": resets.rst_n(), "req": req}


def uart_stimulus(params: dict[str, int], rng: np.random.Generator) -> Iterator[dict[str, int]]:
    probabilities = {"stream": 1.0, "random": 0.3, "sparse": 0.02, "idle": 0.0}
    phases = _phases(rng, list(probabilities), [3, 3, 2, 1], 50, 400)
    resets = _Resets(rng, 0.0015)
    while True:
        yield {"rst_n": resets.rst_n(), "tx_start": int(rng.random() < probabilities[next(phases)]),
               "tx_data": int(rng.integers(0, 256))}


def alu_stimulus(params: dict[str, int], rng: np.random.Generator) -> Iterator[dict[str, int]]:
    w = params["WIDTH"]
    mask, sign = (1 << w) - 1, 1 << (w - 1)
    specials = [0, 1, 2, 3, 5, mask, mask - 1, sign, sign - 1, sign + 1, sign >> 1, 0x0F & mask, 0x30 & mask]
    resets = _Resets(rng, 0.004)

    def operand() -> int:
        if rng.random() < 0.35:
            return int(specials[int(rng.integers(len(specials)))])
        return int(rng.integers(0, 1 << w))

    while True:
        yield {"rst_n": resets.rst_n(), "en": int(rng.random() < 0.85), "op": int(rng.integers(0, 8)),
               "a": operand(), "b": operand()}


def uart_fifo_stimulus(params: dict[str, int], rng: np.random.Generator, model: Model) -> Iterator[dict[str, int]]:
    probabilities = {"flood": 0.95, "burst": 0.5, "trickle": 0.01, "idle": 0.0}
    phases = _phases(rng, list(probabilities), [3, 3, 2, 1], 100, 800)
    resets = _Resets(rng, 0.0008)
    while True:
        rst_n = resets.rst_n()
        # Aim a one-cycle reset pulse at an edge where the controller pops a byte for the transmitter.
        if rst_n and getattr(model, "pop", False) and rng.random() < 0.08:
            rst_n = 0
        yield {"rst_n": rst_n, "wr_en": int(rng.random() < probabilities[next(phases)]),
               "din": int(rng.integers(0, 256))}


def generate(design: str, params: dict[str, int], model: Model, cycles: int,
             rng: np.random.Generator) -> tuple[list[dict[str, int]], list[dict[str, int] | None]]:
    """Stimulus for `cycles` cycles and the model's expected outputs at each (None = don't care)."""
    if design == "uart_fifo":
        source = uart_fifo_stimulus(params, rng, model)
    else:
        source = {"fifo": fifo_stimulus, "arbiter": arbiter_stimulus, "uart": uart_stimulus,
                  "alu": alu_stimulus}[design](params, rng)
    stimuli, expected = [], []
    for _ in range(cycles):
        inputs = next(source)
        stimuli.append(inputs)
        expected.append(model.outputs())
        model.step(inputs)
    return stimuli, expected
