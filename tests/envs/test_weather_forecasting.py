"""ALE/Weather-Forecasting-v0: the station records, the forecast reader, the scores and the task end to end.

The records are checked against the package files they come from; the reader and the checkers against
garbage; the task through the environment in the jail (oracle full pass on every tier, doing nothing
scores zero, every cheat caught by the milestone it names) and, inside the jail, a search of everything
readable for the hidden future finds nothing.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from ale_gym.envs.weather_forecasting import hindcast, records, scoring
from ale_gym.envs.weather_forecasting.records import Plan
from ale_gym.envs.weather_forecasting.stations import STATIONS, load_series, source_lines
from ale_gym.envs.weather_forecasting.verify import read_forecast

from ale_gym import actions as A
from ale_gym.runtime.jail import NoJail
from ale_gym.tasks.base import CheckContext, DeliverableError, GenContext
from ale_gym.tasks.milestones import MilestoneBook
from ale_gym.tasks.registry import get_entry, load_task

TASK_ID = "ALE/Weather-Forecasting-v0"
TIERS = ("near-term", "full-spectrum", "last-exam")


@pytest.fixture(scope="module")
def task():
    return load_task(get_entry(TASK_ID))


def generate(task, tier: str, seed: int, root: Path):
    ws, hidden = root / "ws", root / "hidden"
    ws.mkdir(parents=True)
    hidden.mkdir()
    instance = task.generate(GenContext(ws, hidden, task.data_dir, tier, seed), np.random.default_rng(seed))
    return instance, ws, hidden


# -- the records -------------------------------------------------------------------------------------------------

def test_records_are_the_package_observations() -> None:
    seattle = load_series("seattle")
    assert len(seattle) == 1461 and seattle.index[0] == pd.Timestamp("2012-01-01")
    assert source_lines("seattle", 0, 1) == "2012/01/01,0.0,12.8,5.0,4.7,drizzle\n"
    for key in ("greensboro", "sand_point", "miami"):
        frame = load_series(key)
        assert len(frame) == 8760
        # Hour-ending local standard time: the first value covers 00:00-01:00 local on 1 January.
        first_local = frame.index[0].tz_convert(None) + pd.Timedelta(hours=STATIONS[key].utc_offset_hours)
        assert first_local == pd.Timestamp("2019-01-01 01:00")
        assert -30 < frame["temp_air"].min() < frame["temp_air"].max() < 45  # degC, not tenths
        noon = frame["ghi"].groupby((frame.index.tz_convert(None)
                                     + pd.Timedelta(hours=STATIONS[key].utc_offset_hours)).hour).mean()
        station = STATIONS[key]
        solar_noon = 12 + (15 * station.utc_offset_hours - station.longitude) / 15  # local standard time
        assert abs(noon.idxmax() - 0.5 - solar_noon) <= 1.0 and noon.loc[[0, 1, 2, 3]].max() == 0.0
    row = load_series("greensboro").iloc[100]
    line = source_lines("greensboro", 100, 1).split(",")
    assert float(line[31]) == row["temp_air"] and float(line[4]) == row["ghi"]


def test_baselines_follow_their_definitions() -> None:
    index = pd.date_range("2019-01-01 01:00", periods=24 * 40, freq="h", tz="UTC")
    values = pd.Series(np.arange(len(index), dtype=float), index=index)
    targets = pd.date_range(index[-1] + pd.Timedelta(hours=1), periods=30, freq="h")
    persistence = scoring.persistence(values, targets, daily=False)
    assert persistence[0] == values.iloc[-24] and persistence[23] == values.iloc[-1]
    assert persistence[24] == values.iloc[-24]  # lead 25 h: the same hour, 48 h back
    clim = scoring.climatology(values, targets[:1], daily=False, alpha=0.2)
    same_hour = values.iloc[-24::-24][:30]
    assert clim.value[0] == pytest.approx(same_hour.mean())
    truth = np.array([0.0, 10.0])
    assert scoring.winkler(truth, np.array([-1.0, 0.0]), np.array([1.0, 5.0]), 0.2) == pytest.approx((2 + 5 + 50) / 2)
    assert scoring.mse_skill(truth, truth, truth + 1) == 1.0


# -- generation --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tier", TIERS)
def test_same_seed_same_bytes_other_seed_other_work(task, tier: str, tmp_path: Path) -> None:
    first, ws1, _ = generate(task, tier, 5, tmp_path / "a")
    again, ws2, _ = generate(task, tier, 5, tmp_path / "b")
    other, ws3, _ = generate(task, tier, 6, tmp_path / "c")
    assert first.instruction == again.instruction
    for name in ("history.csv", "request.md"):
        assert (ws1 / name).read_bytes() == (ws2 / name).read_bytes()
    assert (ws1 / "history.csv").read_bytes() != (ws3 / "history.csv").read_bytes()
    assert first.state["origin"] != other.state["origin"]
    history = (ws1 / "history.csv").read_text().splitlines()
    assert history[-1].split(",")[0] == first.state["origin"] and len(history) - 1 >= 60 * (1 if tier == "near-term" else 24)
    assert "```json" in first.instruction and first.state["origin"] in first.instruction


def test_the_workspace_ends_at_the_origin_and_the_future_is_hidden(task, tmp_path: Path) -> None:
    instance, ws, hidden = generate(task, "last-exam", 8, tmp_path)
    history = (ws / "history.csv").read_text()
    record = (hidden / "record.csv").read_text()
    assert record.startswith(history) and len(record) > 2 * len(history)
    plan = json.loads((hidden / "plan.json").read_text())
    assert plan["origins"][0] == instance.state["origin"] and len(plan["origins"]) == records.N_ORIGINS
    assert plan["history_offset"] != plan["forecast_offset"]
    assert sorted(p.name for p in ws.iterdir()) == ["history.csv", "request.md"]


# -- the forecast reader -----------------------------------------------------------------------------------------

def hourly_plan() -> Plan:
    return Plan(STATIONS["miami"], "hourly", [{"name": "temp_air", "history_units": "degC", "forecast_units": "degF"}],
                3, [0], "+00:00", "-05:00")


TARGETS = pd.date_range("2019-04-01 13:00", periods=3, freq="h", tz="UTC")
GOOD = ("timestamp,variable,value,lower,upper\n"
        "2019-04-01T08:00:00-05:00,temp_air,70.1,68,72\n"
        "2019-04-01T09:00:00-05:00,temp_air,71.0,69,73\n"
        "2019-04-01T10:00-05:00,temp_air,72.5,70,75\n")


def test_reader_accepts_the_requested_stamps() -> None:
    parsed = read_forecast(GOOD, hourly_plan(), TARGETS)
    assert parsed["temp_air"][:, 2].tolist() == [72.5, 70.0, 75.0]


@pytest.mark.parametrize("text, reason", [
    (GOOD.replace("-05:00", "+00:00"), "asks for UTC-05:00"),
    (GOOD.replace("2019-04-01T08:00:00-05:00", "2019-04-01T13:00:00Z"), "asks for UTC-05:00"),
    (GOOD.replace("T10:00-05:00", "T11:00-05:00"), "not one of the 3 requested"),
    ("\n".join(GOOD.splitlines()[:3]) + "\n", "1 of 3 requested time stamps are missing"),
    (GOOD + "2019-04-01T10:00:00-05:00,temp_air,72.5,70,75\n", "a second row"),
    (GOOD.replace("72.5", "nan"), "is nan"),
    (GOOD.replace("70.1,68", "70.1,71"), "lower <= value <= upper"),
    (GOOD.replace("70.1,68,72", "170.1,168,172"), "not plausible"),
    (GOOD.replace("temp_air,71.0", "ghi,71.0"), "was not requested"),
    (GOOD.replace("upper", "high"), "lacks column(s) upper"),
    (GOOD.replace("2019-04-01T09:00:00-05:00", "tomorrow 9am"), "not ISO 8601"),
    (GOOD.replace(",72\n", "\n"), "has 4 fields"),
    ("\x00\x01garbage", "lacks column"),
    ("", "lacks column"),
])
def test_reader_rejects_bad_forecasts_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(DeliverableError, match=None) as caught:
        read_forecast(text, hourly_plan(), TARGETS)
    assert reason in str(caught.value)


# -- checkers against garbage, without the environment -----------------------------------------------------------

def evaluate(task, instance, ws: Path, hidden: Path, tier: str) -> MilestoneBook:
    book = MilestoneBook(task.card.milestones_for(tier), tier, task.checkers())
    ctx = CheckContext(workspace=ws, hidden=hidden, instance=instance, tier=tier, data_dir=task.data_dir,
                       runner=NoJail(ws).run)
    book.evaluate(ctx, final=True)
    return book


GARBAGE_PIPELINES = {
    "exits": "raise SystemExit(3)\n",
    "syntax": "def (:\n",
    "silent": "print('done')\n",
    "binary_output": ("import sys\nout = sys.argv[sys.argv.index('--out') + 1]\n"
                      "open(out, 'wb').write(bytes(range(256)) * 10)\n"),
    "link_output": ("import os, sys\nout = sys.argv[sys.argv.index('--out') + 1]\n"
                    "os.symlink('/etc/passwd', out)\n"),
    "sleeps": "import time\ntime.sleep(60)\n",
}


def test_garbage_deliverables_fail_without_checker_errors(task, tmp_path: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setattr(sys.modules[type(task).__module__], "RUN_TIMEOUT", 3.0)
    instance, ws, hidden = generate(task, "near-term", 2, tmp_path)
    book = evaluate(task, instance, ws, hidden, "near-term")
    assert not book.errors and book.potential() == 0.0
    assert "does not exist" in book.report()["forecast_valid"]["detail"]
    (ws / "report.md").write_text("# report\n")
    for content in (b"\x00\xff" * 100, b"timestamp,variable\n1,2\n", "é,ü\n".encode("latin-1")):
        (ws / "forecast.csv").write_bytes(content)
        book = evaluate(task, instance, ws, hidden, "near-term")
        assert not book.errors and book.potential() == 0.0, book.report()
    (ws / "forecast.csv").unlink()
    (ws / "forecast.csv").symlink_to("/etc/passwd")
    book = evaluate(task, instance, ws, hidden, "near-term")
    assert not book.errors and "outside the workspace" in book.report()["forecast_valid"]["detail"]
    # A valid forecast.csv (the reference's own) with pipelines that cannot reproduce it.
    (ws / "forecast.csv").unlink()
    plan_data = json.loads((hidden / "plan.json").read_text())
    reference = hindcast.reference_module()
    cfg = reference.read_request(ws / "request.md")
    table = reference.make_forecast(reference.load_history(ws / "history.csv", cfg),
                                    reference.parse_times([plan_data["origins"][0]], cfg)[0], cfg)
    table.to_csv(ws / "forecast.csv", index=False, float_format="%.2f")
    for name, code in GARBAGE_PIPELINES.items():
        (ws / "forecast.py").write_text(code)
        book = evaluate(task, instance, ws, hidden, "near-term")
        report = book.report()
        assert not book.errors, (name, book.errors)
        assert report["forecast_valid"]["passed"] and book.potential() == pytest.approx(0.1), (name, report)
        assert not report["pipeline_reproduces"]["passed"], name


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

    def factory(tier: str):
        env = gym.make(TASK_ID, tier=tier, sandbox=sandbox)
        made.append(env)
        return env

    yield factory
    for env in made:
        env.close()


@pytest.mark.slow
@pytest.mark.parametrize("tier, seed", [("near-term", 1), ("full-spectrum", 2), ("last-exam", 3)])
def test_oracle_reaches_full_pass(make_env, tier: str, seed: int) -> None:
    env = make_env(tier)
    env.reset(seed=seed)
    total, info = play(env, env.unwrapped.oracle_actions())
    assert info["full_pass"], {k: v["detail"] for k, v in info["milestones"].items() if not v["passed"]}
    assert total == pytest.approx(1.0) and info["score"] == pytest.approx(1.0)
    report = (env.unwrapped.workspace / "report.md").read_text()
    assert "| variable | RMSE |" in report


def test_doing_nothing_scores_zero(make_env) -> None:
    env = make_env("full-spectrum")
    env.reset(seed=4)
    total, info = play(env, [A.submit()])
    assert total == 0.0 and info["score"] == 0.0
    assert all(not m["passed"] for m in info["milestones"].values())
    assert "does not exist" in info["milestones"]["forecast_valid"]["detail"]


@pytest.mark.slow
@pytest.mark.parametrize("tier, seed, names", [
    ("near-term", 7, None),
    ("full-spectrum", 8, ("wrong_time_zone", "hand_typed")),
])
def test_every_cheat_is_caught_by_its_milestone(make_env, tier: str, seed: int, names) -> None:
    env = make_env(tier)
    env.reset(seed=seed)
    cheats = env.unwrapped.cheat_list()
    assert len(cheats) == 6
    for index, cheat in enumerate(cheats):
        if names is not None and cheat.name not in names:
            continue
        env.reset(seed=seed)
        cheat = env.unwrapped.cheat_list()[index]
        _, info = play(env, cheat.actions)
        assert not info["full_pass"], cheat.name
        assert not info["milestones"][cheat.catches]["passed"], (cheat.name, info["milestones"][cheat.catches])


@pytest.mark.slow
def test_no_run_of_hidden_future_values_is_readable_in_the_jail(make_env, sandbox: str, tmp_path: Path) -> None:
    """Searches every file readable inside the jail (all of / but /proc, /sys, /dev) for runs of future
    values: the package files' own lines after the origin and the hidden record's rows, for a daily and
    an hourly instance. A copy planted in the workspace proves the search finds what is there."""
    if sandbox != "bwrap":
        pytest.skip("only the jail hides the dataset packages")
    patterns = []
    for tier, seed in (("near-term", 11), ("last-exam", 12)):
        env = make_env(tier)
        env.reset(seed=seed)
        state = env.unwrapped._instance.state
        row = state["origin_rows"][0]
        raw = source_lines(state["station"], row + 1, 2).splitlines()
        ours = (env.unwrapped._dirs.hidden / "record.csv").read_text().splitlines()[row + 2:row + 4]
        assert raw and ours and all(len(p) > 20 for p in raw + ours)
        patterns += raw + ours
    (env.unwrapped.workspace / "control.txt").write_text("planted " + patterns[-1] + "\n")
    encoded = base64.b64encode("\n".join(patterns).encode()).decode()
    search = (f"mapfile -t P < <(echo {encoded} | base64 -d); args=(); for p in \"${{P[@]}}\"; do args+=(-e \"$p\"); done; "
              "grep -r -l -F -a -s \"${args[@]}\" $(ls -d /* | grep -v -E '^/(proc|sys|dev)$'); echo \"searched ${#P[@]}\"")
    obs, *_ = env.step(A.shell(search, timeout=900))
    assert obs["terminal"].splitlines() == ["/workspace/control.txt", f"searched {len(patterns)}"], obs["terminal"]
