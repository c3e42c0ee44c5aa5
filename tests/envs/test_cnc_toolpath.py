"""ALE/CNC-Toolpath-v0: the G-code interpreter, the height-map simulation, and the task end to end.

The interpreter and the simulation are checked against hand-worked motion and a brute-force per-cell
model; the task is checked through the environment (oracle full pass, doing nothing scores zero, every
cheat caught by the milestone it names) and directly through its checkers for garbage deliverables.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from ale_gym import actions as A
from ale_gym.runtime.jail import NoJail
from ale_gym.tasks.base import CheckContext, GenContext
from ale_gym.tasks.checks.dexel import HeightMap, Moves, lowest_tip
from ale_gym.tasks.checks.gcode import MachineSetup, cycle_time, interpret
from ale_gym.tasks.milestones import MilestoneBook
from ale_gym.tasks.registry import get_entry, load_task

TASK_ID = "ALE/CNC-Toolpath-v0"
TIERS = ("near-term", "full-spectrum", "last-exam")
HEADER = "G21 G90 G17\nT1 M6\nS8000 M3\n"


# -- interpreter -------------------------------------------------------------------------------------------------

def run(text: str, **setup):
    return interpret(text, MachineSetup(home=(0.0, 0.0, 50.0), **setup))


def test_lines_arcs_and_modes_become_segments() -> None:
    program = run(HEADER + "G0 X10 Y0\nG0 Z1\nG1 Z-1 F200\nG1 X20 F1000\nG3 X30 Y0 R5\nG2 X40 Y0 I5 J0 Z-2\nG0 Z5\nM30\n")
    assert program.ok and program.ends_with_m30
    assert program.modes_before_motion == {"G21", "G90", "G17"}
    assert program.tool_changes == [(2, 1)]
    ccw = program.line == 8
    # G3 from (20,0) to (30,0) with R5 bulges below the chord (counter-clockwise about (25,0)).
    assert program.end[ccw, 1].min() == pytest.approx(-5.0, abs=0.01)
    radius = np.hypot(program.end[ccw, 0] - 25.0, program.end[ccw, 1])
    assert np.allclose(radius, 5.0, atol=1e-9)
    cw = program.line == 9
    assert program.end[cw, 1].max() == pytest.approx(5.0, abs=0.01)  # clockwise about (35,0): above
    assert program.end[cw, 2][-1] == pytest.approx(-2.0) and np.all(np.diff(program.end[cw, 2]) < 0)  # helical
    assert np.all(program.spindle[~program.rapid] == 8000) and np.all(program.feed[program.line == 7] == 1000)


def test_full_circle_and_chord_tolerance() -> None:
    program = run(HEADER + "G0 X10 Y0\nG1 Z-1 F100\nG2 X10 Y0 I-10 J0\nM30\n")
    circle = program.line == 6
    mids = (program.start[circle, :2] + program.end[circle, :2]) / 2
    sagitta = 10.0 - np.hypot(mids[:, 0], mids[:, 1])
    points = np.vstack([program.start[circle][:1, :2], program.end[circle, :2]])
    sweep = np.sum(np.diff(np.unwrap(np.arctan2(points[:, 1], points[:, 0]))))
    assert sweep == pytest.approx(-2 * math.pi)  # G2: one full clockwise turn
    assert sagitta.max() <= 0.002 + 1e-9


def test_g83_pecks_retract_to_r_and_reenter_above_the_last_depth() -> None:
    program = run(HEADER + "G0 X5 Y5 Z10\nG98 G83 X5 Y5 Z-10 R2 Q4 F100\nG80\nM30\n")
    cycle = program.line == 5
    feeds = program.end[cycle & ~program.rapid, 2]
    assert feeds.tolist() == pytest.approx([-2.0, -6.0, -10.0])
    reentry = program.end[cycle & program.reentry, 2]
    assert reentry.tolist() == pytest.approx([-2.0 + 0.25, -6.0 + 0.25])
    assert program.end[cycle][-1, 2] == pytest.approx(10.0)  # G98: back to the initial level


@pytest.mark.parametrize("text, message", [
    (HEADER + "G20\nM30\n", "unsupported word G20"),
    (HEADER + "G91 G1 X1 F10\nM30\n", "unsupported word G91"),
    (HEADER + "G1 X5\nM30\n", "feed move before any F"),
    (HEADER + "G0 X1 A5\nM30\n", "unsupported word A"),
    (HEADER + "G2 X10 Y0 I3 F100\nM30\n", "radius to start"),
    (HEADER + "G83 X1 Y1 Z-5 R1 F50\nM30\n", "positive Q"),
    ("T9 M6\nM30\n", "not in the tool crib"),
    (HEADER + "G0 X1 (open comment\nM30\n", "comment"),
    (HEADER + "M30\nG0 X1\n", "after M30"),
    (HEADER + "G0 X1..2\nM30\n", "cannot read"),
])
def test_outside_the_dialect_is_an_error_with_a_line_number(text: str, message: str) -> None:
    program = run(text, tools=frozenset({1, 2}))
    assert not program.ok
    assert any(message in m for _, m in program.errors), program.errors


def test_m6_stops_the_spindle_and_lifts_to_home() -> None:
    program = run(HEADER + "G0 X1 Y1 Z1\nT2 M6\nG1 Z-1 F100\nM30\n")
    lift = program.line == 5
    assert program.end[lift, 2].tolist() == [50.0]
    assert program.spindle[program.line == 6].tolist() == [0.0]
    assert cycle_time(program, rapid_rate=6000.0, tool_change_seconds=5.0) > 10.0


# -- height map ----------------------------------------------------------------------------------------------------

def brute_force(moves: Moves, width: float, depth: float, res: float) -> np.ndarray:
    grid = HeightMap(width, depth, res)
    xs, ys = grid.centres()
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    height = np.zeros(gx.size)
    for k in range(len(moves)):
        z = lowest_tip(gx, gy, np.tile(moves.start[k], (gx.size, 1)), np.tile(moves.end[k], (gx.size, 1)),
                       np.full(gx.size, moves.radius[k]), np.full(gx.size, moves.cot[k]))
        height = np.minimum(height, z)
    return height.reshape(grid.h.shape)


def test_simulation_matches_a_brute_force_model() -> None:
    rng = np.random.default_rng(3)
    n = 80
    start = rng.uniform([-5, -5, -6], [45, 35, 1], (n, 3))
    end = start + rng.uniform([-15, -15, -2], [15, 15, 2], (n, 3))
    level = rng.random(n) < 0.5
    end[level, 2] = start[level, 2]
    vertical = rng.random(n) < 0.15
    end[vertical, :2] = start[vertical, :2]
    start[20:30, 2] = end[20:30, 2] = -2.0  # one long run at a single depth
    radius = rng.choice([1.5, 3.0, 5.0], n)
    radius[20:30] = 3.0
    cot = np.where(rng.random(n) < 0.2, 1 / math.tan(math.radians(59)), 0.0)
    cot[20:30] = 0.0
    moves = Moves(start, end, radius, cot)
    grid = HeightMap(40, 30, 0.25)
    grid.cut(moves)
    assert np.array_equal(grid.h, np.minimum(brute_force(moves, 40, 30, 0.25), 0.0))
    xs, ys = grid.centres()
    gx, gy = np.meshgrid(xs[::7], ys[::5])
    assert np.array_equal(grid.heights_at(gx.ravel(), gy.ravel(), moves), grid.h[::5, ::7].ravel())


def test_engagement_is_the_material_above_the_tip() -> None:
    start = np.array([[10.0, 10, 5], [10, 10, -3], [30, 10, -3], [30, 10, -3]])
    end = np.array([[10.0, 10, -3], [30, 10, -3], [30, 10, -3.0], [10, 10, -3]])
    grid = HeightMap(40, 20, 0.2)
    engagement = grid.cut(Moves(start, end, np.full(4, 2.0), np.zeros(4)))
    assert engagement.tolist() == pytest.approx([3.0, 3.0, 3.0, 3.0])  # one run at Z-3: plunge and slot
    again = grid.cut(Moves(start[1:2], end[1:2], np.array([2.0]), np.zeros(1)))
    assert again.tolist() == [0.0]
    assert grid.h.min() == -3.0


# -- the task ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def task():
    return load_task(get_entry(TASK_ID))


def generate(task, tier: str, seed: int, root: Path):
    ws, hidden = root / "ws", root / "hidden"
    ws.mkdir(parents=True)
    instance = task.generate(GenContext(ws, hidden, task.data_dir, tier, seed), np.random.default_rng(seed))
    return instance, ws, hidden


@pytest.mark.parametrize("tier", TIERS)
def test_same_seed_same_bytes_other_seed_other_part(task, tier: str, tmp_path: Path) -> None:
    files = []
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        instance, ws, _ = generate(task, tier, seed, tmp_path / name)
        files.append(({p.name: p.read_bytes() for p in ws.iterdir()}, instance.instruction, instance.state))
    assert files[0] == files[1]
    assert files[0][0]["part.dxf"] != files[2][0]["part.dxf"] and files[0][2] != files[2][2]
    assert sorted(files[0][0]) == ["job.json", "part.dxf", "tools.csv"]


def evaluate(task, tier: str, instance, ws: Path, hidden: Path) -> MilestoneBook:
    book = MilestoneBook(task.card.milestones_for(tier), tier, task.checkers())
    book.evaluate(CheckContext(ws, hidden, instance, tier, task.data_dir, runner=NoJail(ws).run), final=True)
    return book


def garbage_programs() -> dict[str, bytes]:
    rng = random.Random(4)
    words = "GMXYZIJRFSTQPNHK"
    lines = [" ".join(f"{rng.choice(words)}{rng.uniform(-500, 500):.{rng.randint(0, 4)}f}" for _ in range(rng.randint(1, 6)))
             for _ in range(100_000)]
    fuzz = [HEADER.strip()] + [f"G{rng.choice([0, 1, 2, 3])} X{rng.uniform(-50, 200):.3f} Y{rng.uniform(-50, 200):.3f} "
                               f"Z{rng.uniform(-40, 10):.3f} R{rng.uniform(1, 90):.2f} F{rng.randint(1, 9000)}"
                               for _ in range(3000)] + ["M30"]
    return {"empty": b"", "binary": bytes(range(256)) * 8, "latin1": "G0 X1 (caf\xe9)\n".encode("latin-1"),
            "random_lines": "\n".join(lines).encode(), "random_motion": "\n".join(fuzz).encode(),
            "only_comments": b"(nothing)\n; here\n%\n"}


@pytest.mark.slow
def test_garbage_deliverables_fail_without_checker_errors(task, tmp_path: Path) -> None:
    instance, ws, hidden = generate(task, "last-exam", 5, tmp_path)
    for name, payload in garbage_programs().items():
        (ws / "part.nc").write_bytes(payload)
        book = evaluate(task, "last-exam", instance, ws, hidden)
        assert not book.errors, (name, book.errors)
        assert book.potential() == 0.0 and not book.full_pass, (name, book.report())
    (ws / "part.nc").unlink()
    (ws / "part.nc").symlink_to("/etc/passwd")
    book = evaluate(task, "last-exam", instance, ws, hidden)
    assert not book.errors and book.potential() == 0.0


# -- end to end through the environment ----------------------------------------------------------------------------

def play(env, actions):
    info: dict = {}
    total = 0.0
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        total += reward
        assert info["status"] == "ok", info
        if terminated or truncated:
            break
    return total, info


@pytest.fixture
def make_env(sandbox: str):
    made = []

    def factory(tier: str, gui: bool = False):
        env = gym.make(TASK_ID, tier=tier, gui=gui, sandbox=sandbox)
        made.append(env)
        return env

    yield factory
    for env in made:
        env.close()


@pytest.mark.slow
@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("seed", [1, 2])
def test_oracle_reaches_full_pass(make_env, tier: str, seed: int) -> None:
    env = make_env(tier)
    env.reset(seed=seed)
    total, info = play(env, env.unwrapped.oracle_actions())
    assert info["full_pass"], {k: v["detail"] for k, v in info["milestones"].items() if not v["passed"]}
    assert total == pytest.approx(1.0) and info["score"] == pytest.approx(1.0)


def test_doing_nothing_scores_zero(make_env) -> None:
    env = make_env("full-spectrum")
    env.reset(seed=3)
    total, info = play(env, [A.submit()])
    assert total == 0.0 and info["score"] == 0.0
    assert all(not m["passed"] for m in info["milestones"].values())
    assert "does not exist" in info["milestones"]["program_valid"]["detail"]


@pytest.mark.slow
@pytest.mark.parametrize("tier, seed", [("near-term", 7), ("full-spectrum", 8), ("last-exam", 9)])
def test_every_cheat_is_caught_by_its_milestone(make_env, tier: str, seed: int) -> None:
    env = make_env(tier)
    env.reset(seed=seed)
    names = [c.name for c in env.unwrapped.cheat_list()]
    assert len(names) == 9
    for index in range(len(names)):
        env.reset(seed=seed)
        cheat = env.unwrapped.cheat_list()[index]
        _, info = play(env, cheat.actions)
        assert not info["full_pass"], cheat.name
        assert not info["milestones"][cheat.catches]["passed"], (cheat.name, info["milestones"][cheat.catches])


@pytest.mark.gui
@pytest.mark.slow
def test_drawing_is_open_in_librecad_at_reset(make_env) -> None:
    env = make_env("near-term", gui=True)
    obs, info = env.reset(seed=4)
    [window] = [w for w in info["windows"] if "part.dxf" in w["title"]]
    assert "LibreCAD" in window["title"] and window["width"] <= 1280
    assert obs["screenshot"].std() > 0
