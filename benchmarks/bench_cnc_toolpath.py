"""How fast the CNC checker's truth is: parse + material-removal simulation of 1k/10k/100k-line programs.

Why: the CNC-Toolpath checkers interpret every block and simulate every move on a height map; an agent's
program may be 100 000 lines, and the checker must answer in seconds. Each row compares the measured
work with a raw numpy baseline measured in the same run: lowering the same number of height-map cells
with one `np.minimum.at` call (the floor cost of any per-cell simulation), so the ratio shows how much
the interpreter and the exact geometry add.

Programs are synthetic but shaped like CAM output: zig-zag pocket clearing in short G1 steps at several
depths, a G2/G3 arc at each row end, helical ramps, and a G83 drilling pattern.

Run: python benchmarks/bench_cnc_toolpath.py [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ale_gym.tasks.checks.dexel import HeightMap, Moves
from ale_gym.tasks.checks.gcode import MachineSetup, interpret

STOCK = (150.0, 100.0, 25.0)
RESOLUTION = 0.2
RADIUS = 4.0


def synthetic_program(lines: int, step: float = 1.5) -> str:
    """A CAM-like program of about `lines` blocks."""
    out = ["%", "G21 G90 G17 G40 G49 G80 G94", "T1 M6", "S9000 M3", "G0 X10 Y10", "G0 Z5"]
    z = 0.0
    while len(out) < lines - 20:
        z -= 1.0
        out += ["G0 Z1", "G0 X10 Y10", f"G1 Z{z:.3f} F400"]
        x, y, direction = 10.0, 10.0, 1
        while y < 86 and len(out) < lines - 20:
            while 10 <= x + direction * step <= 140 and len(out) < lines - 20:
                x += direction * step
                out.append(f"G1 X{x:.3f} Y{y:.3f} F1800")
            out.append(f"G{2 if direction > 0 else 3} X{x:.3f} Y{y + 3:.3f} R1.5")
            y += 3.0
            direction = -direction
        out += ["G0 Z5", "G0 X75 Y50", "G1 Z0.5 F600", f"G3 X75 Y50 I3 J0 Z{z - 1:.3f}", "G0 Z5"]
    out += ["T2 M6", "S4000 M3", "G99 G83 X20 Y20 Z-27 R2 Q6 F400"]
    out += [f"X{20 + 10 * k:.1f}" for k in range(1, 12)]
    out += ["G80", "G0 Z50", "M5", "M30", "%"]
    return "\n".join(out) + "\n"


def measure(lines: int) -> dict[str, float]:
    text = synthetic_program(lines)
    start = time.perf_counter()
    program = interpret(text, MachineSetup(home=(0.0, 0.0, 100.0)))
    parsed = time.perf_counter()
    assert not program.errors, program.errors[:3]
    drill = program.tool == 2
    radius = np.where(drill, 3.0, RADIUS)
    cot = np.where(drill, 1 / np.tan(np.radians(59.0)), 0.0)
    heightmap = HeightMap(STOCK[0], STOCK[1], RESOLUTION, bottom=-STOCK[2])
    heightmap.cut(Moves(program.start, program.end, radius, cot))
    simulated = time.perf_counter()
    # Baseline: the same number of cell updates a naive per-segment stamp would do, as one numpy call.
    cells_per_move = int(np.pi * (RADIUS / RESOLUTION) ** 2)
    updates = len(program) * cells_per_move
    flat = heightmap.h.reshape(-1).copy()
    rng = np.random.default_rng(0)
    base_start = time.perf_counter()
    done = 0
    while done < updates:
        chunk = min(updates - done, 20_000_000)
        np.minimum.at(flat, rng.integers(0, flat.size, chunk), -1.0)
        done += chunk
    baseline = time.perf_counter() - base_start
    return {"lines": text.count("\n"), "segments": len(program), "parse": parsed - start,
            "simulate": simulated - parsed, "baseline": baseline, "updates": updates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    args = parser.parse_args()
    print(f"height map {STOCK[0]:g} x {STOCK[1]:g} mm at {RESOLUTION} mm, end mill radius {RADIUS:g} mm")
    print(f"{'lines':>8} {'segments':>9} {'parse s':>8} {'sim s':>7} {'total s':>8} {'numpy stamp s':>14} {'ratio':>6}")
    for size in args.sizes:
        row = measure(size)
        total = row["parse"] + row["simulate"]
        print(f"{row['lines']:>8} {row['segments']:>9} {row['parse']:>8.2f} {row['simulate']:>7.2f} {total:>8.2f} "
              f"{row['baseline']:>14.2f} {total / row['baseline']:>6.2f}")


if __name__ == "__main__":
    main()
