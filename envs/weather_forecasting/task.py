"""ALE/Weather-Forecasting-v0: an operational station forecast pipeline, verified by hindcasts on hidden data."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from ale_gym.envs.weather_forecasting import hindcast, records
from ale_gym.envs.weather_forecasting.records import Plan
from ale_gym.envs.weather_forecasting.stations import HOURLY_STATIONS, STATIONS, load_series
from ale_gym.envs.weather_forecasting.verify import read_forecast

from ale_gym import actions as A
from ale_gym.actions import Action
from ale_gym.tasks.base import Cheat, CheckContext, DeliverableError, GenContext, Instance, Task, Verdict

HERE = Path(__file__).resolve().parent
SOLUTION = HERE / "solution"
CHEATS = HERE / "cheats"
RUN_TIMEOUT = records.RUN_TIMEOUT_S * 1.5  # the request promises 60 s; a loaded machine gets some slack
HINDCAST_BUDGET = 900.0  # seconds for all hindcast runs together
MAX_ATTEMPTS = 40
CACHE_SIZE = 16
OUTPUT_DIR = "checker_output"


@dataclass(frozen=True)
class TierSetup:
    stations: tuple[str, ...]
    variables: tuple[str, ...]
    horizons: tuple[int, ...]
    first_row: int  # earliest live origin (row of the record)
    last_row: int | None  # latest live origin; None: one year before the record ends (daily)


TIERS = {
    "near-term": TierSetup(("seattle",), ("temp_max", "temp_min"), (5, 6, 7), 500, None),
    "full-spectrum": TierSetup(HOURLY_STATIONS, ("temp_air",), (24, 36, 48), 60 * 24, 181 * 24),
    "last-exam": TierSetup(HOURLY_STATIONS, ("temp_air", "ghi"), (48,), 60 * 24, 120 * 24),
}


@dataclass
class PipelineOutcome:
    """What running the agent's forecast.py produced: forecasts, or the reason it could not."""

    ok: bool
    detail: str
    forecasts: dict[str, np.ndarray] | None = None  # variable -> (origins, 3, horizon)
    seconds: float = 0.0


class WeatherForecasting(Task):
    """Deliver a station forecast with calibrated uncertainty and the pipeline that produces it.

    Description:
        A forecaster at a utility (SOC 19-2021, Atmospheric and Space Scientists) must deliver the next
        days' (or hours') temperature forecast for a station, with 80% intervals, and a pipeline that
        produces it every day. The records are real observations that ship offline: vega_datasets' Seattle
        daily weather (2012-2015) and pvlib's typical-meteorological-year files (Greensboro NC, Sand Point
        AK, Miami FL; hourly temperature and irradiance). The generator picks a station, a forecast origin,
        a horizon, the requested units (degC/degF) and, for hourly data, the time zones of the history and
        of the forecast (UTC or the station's standard time, never the same); everything after the origin
        is hidden. The hindcast origins are spread over the rest of the record, so the pipeline is judged
        over a season or more of weather.

    Inputs (workspace):
        `history.csv` (all observations up to and including the origin, at least 60 days),
        `request.md` (station, variables, units, horizon, time zones, interval level, acceptance rules,
        and a machine-readable json summary).

    Deliverables:
        `forecast.py` (`python3 forecast.py --history H.csv --origin T --out F.csv`, at most 60 s, only H as
        data), `forecast.csv` (`timestamp,variable,value,lower,upper`, the live forecast) and `report.md`
        (method and the agent's own backtest; read by people, never scored or trusted).

    Milestones:
        forecast_valid (0.10): forecast.csv has exactly the requested stamps in the requested zone for every
            variable, finite plausible values in the requested units, lower <= value <= upper.
        pipeline_reproduces (0.10, after forecast_valid, at submit): forecast.py re-run in the jail on the
            pristine history reproduces forecast.csv within 0.1 units, in time.
        beats_persistence (0.20, after pipeline_reproduces, at submit): over 40 hidden hindcast origins the
            RMSE is at least 1% below persistence's (last value; hourly: last value at the same hour), for
            every variable.
        beats_climatology (0.20, after pipeline_reproduces, at submit): and at least 1% below climatology from
            the history (daily: values within 15 days of the date in earlier years; hourly: the last 30 days
            at the same hour).
        skill (0.20, after beats_persistence and beats_climatology, at submit): MSE skill against that
            climatology at least 80% of the reference method's skill on the same origins.
        calibrated (0.20, after pipeline_reproduces, at submit): 80% interval coverage in [0.70, 0.90] and a
            mean Winkler score below the climatological 10th-90th percentile interval's, for every variable.
        Irradiance is scored over the hours with the sun up (extraterrestrial irradiance > 0).

    Tiers:
        near-term: Seattle daily maximum and minimum temperature, 5-7 days ahead.
        full-spectrum: hourly temperature at a TMY station, 24-48 hours ahead, zone conversion.
        last-exam: hourly temperature and global horizontal irradiance at a PV site, 48 hours ahead, both
            calibrated.

    Oracle:
        The reference method (`solution/forecast.py`: per-lead regression on climatology, persistence and
        recent anomalies; clear-sky rescaling for irradiance; intervals from the regression errors) written
        as forecast.py, run on history.csv to make forecast.csv, then `solution/backtest.py` writes
        report.md. The generator keeps only instances on which this method clears every bar with room
        to spare (at least 3% below persistence, 2% below climatology, coverage 0.72-0.88), so the
        task is always solvable.

    Cheats:
        persistence as the pipeline (beats_persistence); a hand-typed forecast.csv that forecast.py does not
        reproduce (pipeline_reproduces); intervals of plus or minus 50 degrees (calibrated); stamps in the
        wrong time zone, or a day early for daily data (forecast_valid); a pipeline that reads the answer
        from the dataset package (forecast_valid: the jail masks the package, so it cannot run); a
        climatology pipeline with a report claiming skill (skill).
    """

    def __init__(self, card, data_dir) -> None:
        super().__init__(card, data_dir)
        self._runs: OrderedDict[tuple[str, str, str], PipelineOutcome] = OrderedDict()

    # -- instance ------------------------------------------------------------------------------------

    def generate(self, ctx: GenContext, rng: np.random.Generator) -> Instance:
        setup = TIERS[ctx.tier]
        key = str(rng.choice(setup.stations))
        station = STATIONS[key]
        frame = load_series(key)
        horizon = int(rng.choice(setup.horizons))
        temp_units = str(rng.choice(["degC", "degF"]))
        variables = [{"name": name, "history_units": records.UNITS[name],
                      "forecast_units": temp_units if name != "ghi" else records.UNITS[name]}
                     for name in setup.variables]
        local = records.format_offset(station.utc_offset_hours)
        local_history = bool(rng.integers(2))
        history_offset, forecast_offset = (local, "+00:00") if local_history else ("+00:00", local)
        last_row = setup.last_row if setup.last_row is not None else len(frame) - 366
        for _ in range(MAX_ATTEMPTS):
            row0 = int(rng.integers(setup.first_row, last_row + 1))
            spacing = (len(frame) - 1 - horizon - row0) // (records.N_ORIGINS - 1)
            if station.resolution == "hourly" and spacing % 24 == 0:
                spacing -= 1  # so the hindcasts are issued at every hour of the day
            plan = Plan(station, station.resolution, variables, horizon,
                        [row0 + k * spacing for k in range(records.N_ORIGINS)], history_offset, forecast_offset)
            last = plan.origin_rows[-1] + horizon
            record_text = records.record_csv(frame.iloc[:last + 1], plan)
            origins = [records.origin_label(frame, row, plan) for row in plan.origin_rows]
            truth = hindcast.verification(frame, plan)
            reference = hindcast.reference_forecasts(record_text, plan, origins)
            scores = {n: hindcast.score(reference[n], truth[n], reference[n]) for n in truth}
            if all(hindcast.comfortably_solvable(s) for s in scores.values()):
                break
        else:
            raise RuntimeError(f"no solvable origin found for {key} in {MAX_ATTEMPTS} attempts")
        lines = record_text.splitlines(keepends=True)
        history_text = "".join(lines[:row0 + 2])
        first_day = frame.index[0].strftime("%Y-%m-%d")
        request = records.request_text(plan, origins[0], first_day, row0 + 1)
        (ctx.workspace / "history.csv").write_text(history_text)
        (ctx.workspace / "request.md").write_text(request)
        (ctx.hidden / "record.csv").write_text(record_text)
        (ctx.hidden / "request.md").write_text(request)
        (ctx.hidden / "plan.json").write_text(json.dumps({**plan.to_json(), "origins": origins}, indent=1))
        arrays = {f"{n}__{k}": v for n, parts in truth.items() for k, v in parts.items()}
        arrays.update({f"{n}__reference": v for n, v in reference.items()})
        with open(ctx.hidden / "verification.npz", "wb") as handle:
            np.savez(handle, **arrays)
        instruction = (
            "You are the forecaster on duty. The request below is also in request.md; the observations are in\n"
            "history.csv (both in the current folder, which is your working directory). Write forecast.py,\n"
            "run it to produce forecast.csv, and write report.md. Python 3 (numpy, pandas, scipy, pvlib) and\n"
            "bash are available; there is no network.\n\n" + request)
        state = {"station": key, "origin": origins[0], "horizon": horizon, "units": temp_units,
                 "history_offset": history_offset, "forecast_offset": forecast_offset,
                 "variables": [v["name"] for v in variables], "origin_rows": plan.origin_rows,
                 "reference": {n: {"rmse": s.rmse, "rmse_persistence": s.rmse_persistence,
                                   "rmse_climatology": s.rmse_climatology, "skill": s.skill,
                                   "coverage": s.coverage} for n, s in scores.items()}}
        return Instance(instruction=instruction, state=state)

    # -- shared by the checkers ----------------------------------------------------------------------

    @staticmethod
    def _plan(ctx: CheckContext) -> tuple[Plan, list[str], pd.DataFrame]:
        data = json.loads((ctx.hidden / "plan.json").read_text())
        station = STATIONS[data["station"]]
        plan = Plan(station, data["resolution"], data["variables"], data["horizon"], data["origin_rows"],
                    data["history_offset"], data["forecast_offset"])
        return plan, data["origins"], load_series(data["station"])

    @staticmethod
    def _verification(ctx: CheckContext) -> dict[str, dict[str, np.ndarray]]:
        with np.load(ctx.hidden / "verification.npz") as stored:
            out: dict[str, dict[str, np.ndarray]] = {}
            for name in stored.files:
                variable, part = name.split("__")
                out.setdefault(variable, {})[part] = stored[name]
        return out

    @staticmethod
    def _pipeline_digest(ctx: CheckContext) -> str:
        """A hash of every workspace file a pipeline could read (not its deliverable outputs)."""
        digest = hashlib.blake2b(digest_size=16)
        for path in sorted(ctx.workspace.rglob("*")):
            relative = path.relative_to(ctx.workspace).as_posix()
            if relative in ("forecast.csv", "report.md") or "__pycache__" in relative or path.is_symlink():
                continue
            if path.is_file():
                digest.update(relative.encode("utf-8", "surrogateescape") + b"\0")
                info = path.stat()
                if info.st_size <= 16 * 1024 * 1024:
                    digest.update(hashlib.blake2b(path.read_bytes(), digest_size=16).digest())
                else:
                    digest.update(f"{info.st_size}:{info.st_mtime_ns}".encode())
        return digest.hexdigest()

    def _cached(self, ctx: CheckContext, what: str, compute) -> PipelineOutcome:
        key = (str(ctx.hidden), what, self._pipeline_digest(ctx))
        if key not in self._runs:
            self._runs[key] = compute()
            while len(self._runs) > CACHE_SIZE:
                self._runs.popitem(last=False)
        return self._runs[key]

    def _run_origins(self, ctx: CheckContext, indices: list[int], label: str) -> PipelineOutcome:
        """Run forecast.py in the jail for the given hindcast origins (0 is the live one) and read its output."""
        plan, origins, frame = self._plan(ctx)
        if not ctx.exists("forecast.py"):
            return PipelineOutcome(False, "forecast.py does not exist")
        record_lines = (ctx.hidden / "record.csv").read_text().splitlines(keepends=True)
        started = time.monotonic()
        with ctx.scratch() as folder:
            # The pipeline sees pristine inputs, whatever became of the workspace copies.
            (folder / "request.md").write_text((ctx.hidden / "request.md").read_text())
            (folder / "history.csv").write_text("".join(record_lines[:plan.origin_rows[0] + 2]))
            (folder / OUTPUT_DIR).mkdir(exist_ok=True)

            def one(k: int) -> tuple[int, str | None, np.ndarray | None, dict[str, np.ndarray] | None]:
                remaining = HINDCAST_BUDGET - (time.monotonic() - started)
                if remaining <= 0:
                    return k, f"the hindcasts exceeded their {HINDCAST_BUDGET:.0f} s budget", None, None
                history = "history.csv" if k == 0 else f"{OUTPUT_DIR}/history_{k:02d}.csv"
                if k:
                    (folder / history).write_text("".join(record_lines[:plan.origin_rows[k] + 2]))
                out = f"{OUTPUT_DIR}/forecast_{k:02d}.csv"
                result = ctx.run(["python3", "forecast.py", "--history", history, "--origin", origins[k], "--out", out],
                                 cwd=folder, timeout=min(RUN_TIMEOUT, remaining))
                if k:
                    (folder / history).unlink(missing_ok=True)
                where = f"origin {origins[k]}"
                if result.timed_out:
                    return k, f"forecast.py did not finish within {min(RUN_TIMEOUT, remaining):.0f} s ({where})", None, None
                if result.returncode != 0:
                    tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
                    return k, f"forecast.py exited with status {result.returncode} ({where}): {' | '.join(tail)[:400]}", None, None
                target = folder / out
                if not target.is_file() or target.is_symlink():
                    return k, f"forecast.py wrote no {out} ({where})", None, None
                if target.stat().st_size > 8 * 1024 * 1024:
                    return k, f"forecast.py wrote {target.stat().st_size} bytes ({where})", None, None
                try:
                    text = target.read_text("utf-8")
                    parsed = read_forecast(text, plan, records.target_times(frame, plan.origin_rows[k], plan))
                except (DeliverableError, UnicodeDecodeError, ValueError) as exc:
                    return k, f"its output for {where} is not a valid forecast: {exc}", None, None
                return k, None, None, parsed

            workers = max(1, min(2, os.cpu_count() or 1))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(one, indices))
        seconds = time.monotonic() - started
        failures = [r for r in results if r[1] is not None]
        if failures:
            return PipelineOutcome(False, failures[0][1], seconds=seconds)
        names = [v["name"] for v in plan.variables]
        forecasts = {n: np.stack([r[3][n] for r in results]) for n in names}
        return PipelineOutcome(True, f"{label}: {len(indices)} run(s) in {seconds:.1f} s", forecasts, seconds)

    def _live(self, ctx: CheckContext) -> PipelineOutcome:
        return self._cached(ctx, "live", lambda: self._run_origins(ctx, [0], "live run"))

    def _reproduction(self, ctx: CheckContext) -> Verdict:
        plan, _, frame = self._plan(ctx)
        delivered = read_forecast(ctx.read_text("forecast.csv", 8 * 1024 * 1024), plan,
                                  records.target_times(frame, plan.origin_rows[0], plan))
        live = self._live(ctx)
        if not live.ok:
            return Verdict(False, live.detail)
        assert live.forecasts is not None
        worst, where = 0.0, ""
        for name, values in delivered.items():
            gap = np.abs(live.forecasts[name][0] - values)
            if gap.max() > worst:
                worst = float(gap.max())
                field, column = np.unravel_index(int(np.argmax(gap)), gap.shape)
                where = f"{name} {hindcast.FIELDS[field]} at step {column + 1}"
        if worst > 0.1:
            return Verdict(False, f"forecast.py does not reproduce forecast.csv: off by {worst:.2f} ({where})",
                           {"max_difference": worst})
        return Verdict(True, f"forecast.py reproduces forecast.csv (largest difference {worst:.3f}) in {live.seconds:.1f} s",
                       {"max_difference": worst, "seconds": live.seconds})

    def _scores(self, ctx: CheckContext) -> dict[str, hindcast.Scores]:
        """Scores of the agent's pipeline over every hindcast origin; raises DeliverableError when it cannot run."""
        reproduction = self._reproduction(ctx)
        if not reproduction.passed:
            raise DeliverableError(f"no hindcasts: {reproduction.detail}")
        # The live run (origin 0) is already done; the other origins run once per pipeline version.
        outcome = self._cached(ctx, "hindcast",
                               lambda: self._run_origins(ctx, list(range(1, records.N_ORIGINS)), "hindcasts"))
        if not outcome.ok:
            raise DeliverableError(f"hindcasts failed: {outcome.detail}")
        live = self._live(ctx)
        assert outcome.forecasts is not None and live.forecasts is not None
        truth = self._verification(ctx)
        return {name: hindcast.score(np.concatenate([live.forecasts[name], outcome.forecasts[name]]), truth[name],
                                     truth[name]["reference"])
                for name in outcome.forecasts}

    @staticmethod
    def _units(ctx: CheckContext) -> dict[str, str]:
        data = json.loads((ctx.hidden / "plan.json").read_text())
        return {v["name"]: v["forecast_units"] for v in data["variables"]}

    # -- milestones ----------------------------------------------------------------------------------

    def check_forecast_valid(self, ctx: CheckContext) -> Verdict:
        plan, origins, frame = self._plan(ctx)
        parsed = read_forecast(ctx.read_text("forecast.csv", 8 * 1024 * 1024), plan,
                               records.target_times(frame, plan.origin_rows[0], plan))
        zone = "dates" if plan.daily else f"UTC{plan.forecast_offset}"
        return Verdict(True, f"{len(parsed)} variable(s) x {plan.horizon} steps from {origins[0]}, stamps in {zone}")

    def check_pipeline_reproduces(self, ctx: CheckContext) -> Verdict:
        return self._reproduction(ctx)

    def check_beats_persistence(self, ctx: CheckContext) -> Verdict:
        scores = self._scores(ctx)
        units = self._units(ctx)
        parts = [f"{n}: RMSE {s.rmse:.2f} vs persistence {s.rmse_persistence:.2f} {units[n]}" for n, s in scores.items()]
        return Verdict(all(s.beats_persistence for s in scores.values()), "; ".join(parts),
                       {n: {"rmse": s.rmse, "rmse_persistence": s.rmse_persistence} for n, s in scores.items()})

    def check_beats_climatology(self, ctx: CheckContext) -> Verdict:
        scores = self._scores(ctx)
        units = self._units(ctx)
        parts = [f"{n}: RMSE {s.rmse:.2f} vs climatology {s.rmse_climatology:.2f} {units[n]}" for n, s in scores.items()]
        return Verdict(all(s.beats_climatology for s in scores.values()), "; ".join(parts),
                       {n: {"rmse": s.rmse, "rmse_climatology": s.rmse_climatology} for n, s in scores.items()})

    def check_skill(self, ctx: CheckContext) -> Verdict:
        scores = self._scores(ctx)
        parts = [f"{n}: MSE skill {s.skill:.3f}, reference {s.skill_reference:.3f}, needed {s.skill_threshold:.3f}"
                 for n, s in scores.items()]
        return Verdict(all(s.skilful for s in scores.values()), "; ".join(parts),
                       {n: {"skill": s.skill, "skill_reference": s.skill_reference} for n, s in scores.items()})

    def check_calibrated(self, ctx: CheckContext) -> Verdict:
        scores = self._scores(ctx)
        parts = [f"{n}: coverage {s.coverage:.3f} of {s.points}, Winkler {s.winkler:.2f} vs climatology "
                 f"{s.winkler_climatology:.2f}" for n, s in scores.items()]
        return Verdict(all(s.calibrated for s in scores.values()), "; ".join(parts),
                       {n: {"coverage": s.coverage, "winkler": s.winkler, "winkler_climatology": s.winkler_climatology}
                        for n, s in scores.items()})

    # -- oracle and cheats ---------------------------------------------------------------------------

    @staticmethod
    def _write(name: str, text: str) -> Action:
        return A.python(f"from pathlib import Path\nPath({name!r}).write_text({text!r})\nprint('wrote', {name!r})")

    @staticmethod
    def _source(path: Path) -> str:
        return path.read_text("utf-8")

    RUN_LIVE = ('python3 forecast.py --history history.csv --origin "$(tail -n 1 history.csv | cut -d, -f1)" '
                '--out forecast.csv && head -n 4 forecast.csv')

    def oracle(self, instance: Instance, tier: str) -> list[Action]:
        return [
            self._write("forecast.py", self._source(SOLUTION / "forecast.py")),
            A.shell(self.RUN_LIVE, timeout=300),
            A.python(self._source(SOLUTION / "backtest.py"), timeout=600),
            A.submit(),
        ]

    def cheats(self, instance: Instance, tier: str) -> list[Cheat]:
        method = self._source(SOLUTION / "forecast.py")
        rewrite = self._source(CHEATS / "rewrite.py")
        report = self._write("report.md", "# Report\n\nMethod: persistence of recent weather.\n")
        hand_typed = (
            "import pandas as pd\n"
            "table = pd.read_csv('forecast.csv')\n"
            "for column in ('value', 'lower', 'upper'):\n"
            "    table[column] = table[column].round(0)\n"
            "table['lower'] = table[['lower', 'value']].min(axis=1)\n"
            "table['upper'] = table[['upper', 'value']].max(axis=1)\n"
            "table.to_csv('forecast.csv', index=False)\n")
        claims = ("# Report\n\nMethod: gradient-boosted ensemble with quantile calibration.\n\n"
                  "| variable | RMSE | MSE skill vs climatology | coverage |\n|---|---|---|---|\n"
                  + "".join(f"| {name} | 0.9 | 0.62 | 0.80 |\n" for name in instance.state["variables"]))
        zone = "a day early" if tier == "near-term" else "in the history's time zone"
        return [
            Cheat("persistence", "beats_persistence",
                  [self._write("forecast.py", self._source(CHEATS / "persistence.py")), A.shell(self.RUN_LIVE),
                   report, A.submit()],
                  "persistence (with spread-of-changes intervals) submitted as the pipeline"),
            Cheat("hand_typed", "pipeline_reproduces",
                  [self._write("forecast.py", method), A.shell(self.RUN_LIVE), A.python(hand_typed),
                   self._write("forecast.py", self._source(CHEATS / "persistence.py")), report, A.submit()],
                  "forecast.csv typed by hand (whole degrees) while forecast.py is something else"),
            Cheat("plus_minus_50", "calibrated",
                  [self._write("method.py", method), self._write("forecast.py", rewrite),
                   A.shell(self.RUN_LIVE), report, A.submit()],
                  "a good point forecast with intervals of plus or minus 50 degrees"),
            Cheat("wrong_time_zone", "forecast_valid",
                  [self._write("method.py", method), self._write("forecast.py", rewrite.replace('MODE = "pm50"', 'MODE = "zone"')),
                   A.shell(self.RUN_LIVE), report, A.submit()],
                  f"a good forecast with its stamps {zone}"),
            Cheat("reads_the_answer", "forecast_valid",
                  [self._write("forecast.py", self._source(CHEATS / "lookup.py")), A.shell(self.RUN_LIVE), report,
                   A.submit()],
                  "a pipeline that looks the future up in the dataset package (masked in the jail)"),
            Cheat("claims_skill", "skill",
                  [self._write("forecast.py", self._source(CHEATS / "climatology.py")), A.shell(self.RUN_LIVE),
                   self._write("report.md", claims), A.submit()],
                  "a climatology pipeline whose report claims 62% skill"),
        ]
