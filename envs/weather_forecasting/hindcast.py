"""Hindcast verification: what was observed after each origin, the baselines, and the scores.

All arrays are (origins, horizon) in the requested forecast units. Baselines are built from the
history up to each origin only; the reference is the task's own method (`solution/forecast.py`) run
in-process on exactly the history a pipeline receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from ale_gym.envs.weather_forecasting import records, scoring
from ale_gym.envs.weather_forecasting.records import Plan

from ale_gym.tasks.registry import import_file

SOLUTION = Path(__file__).resolve().parent / "solution"
BEAT_MARGIN = 0.01  # "below persistence / climatology" means at least 1% lower RMSE
SKILL_SHARE = 0.8
COVERAGE = (0.70, 0.90)
FIELDS = ("value", "lower", "upper")


def reference_module():
    """The task's reference method: the oracle's forecast.py, imported from the task folder."""
    return import_file(SOLUTION / "forecast.py", "ale_gym_weather_forecasting_reference")


def to_units(values: np.ndarray, source: str, target: str) -> np.ndarray:
    if source == target:
        return values
    if (source, target) == ("degC", "degF"):
        return values * 9.0 / 5.0 + 32.0
    raise ValueError(f"no conversion from {source} to {target}")


def verification(frame: pd.DataFrame, plan: Plan) -> dict[str, dict[str, np.ndarray]]:
    """Truth, the daylight mask, persistence and climatology for every origin and variable."""
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    alpha = 1.0 - records.INTERVAL
    for variable in plan.variables:
        name = variable["name"]

        def convert(values, var=variable) -> np.ndarray:
            return to_units(np.asarray(values, float), var["history_units"], var["forecast_units"])

        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("truth", "mask", "persistence", "clim_value",
                                                               "clim_lower", "clim_upper")}
        for row in plan.origin_rows:
            history = frame[name].iloc[:row + 1]
            targets = records.target_times(frame, row, plan)
            clim = scoring.climatology(history, targets, plan.daily, alpha)
            parts["truth"].append(convert(frame[name].reindex(targets).to_numpy(float)))
            if name == "ghi":
                parts["mask"].append(frame["etr"].reindex(targets).to_numpy(float) > 0)
            else:
                parts["mask"].append(np.ones(plan.horizon, bool))
            parts["persistence"].append(convert(scoring.persistence(history, targets, plan.daily)))
            parts["clim_value"].append(convert(clim.value))
            parts["clim_lower"].append(convert(clim.lower))
            parts["clim_upper"].append(convert(clim.upper))
        out[name] = {k: np.vstack(v) for k, v in parts.items()}
    return out


def reference_forecasts(record_text: str, plan: Plan, origins: list[str]) -> dict[str, np.ndarray]:
    """Variable -> (origins, 3, horizon) from the reference method, reading the record as a pipeline would."""
    import io

    module = reference_module()
    cfg = plan.config()
    history = module.load_history(io.StringIO(record_text), cfg)
    result = {v["name"]: np.empty((len(origins), 3, plan.horizon)) for v in plan.variables}
    for k, (row, origin) in enumerate(zip(plan.origin_rows, origins)):
        table = module.make_forecast(history.iloc[:row + 1], module.parse_times([origin], cfg)[0], cfg)
        for name, values in result.items():
            part = table[table["variable"] == name]
            values[k] = part[list(FIELDS)].to_numpy(float).T
    return result


@dataclass
class Scores:
    """One variable's hindcast scores for a forecast set, with those of the baselines and the reference."""

    rmse: float
    rmse_persistence: float
    rmse_climatology: float
    skill: float
    skill_reference: float
    coverage: float
    winkler: float
    winkler_climatology: float
    points: int

    @property
    def beats_persistence(self) -> bool:
        return self.rmse <= (1 - BEAT_MARGIN) * self.rmse_persistence

    @property
    def beats_climatology(self) -> bool:
        return self.rmse <= (1 - BEAT_MARGIN) * self.rmse_climatology

    @property
    def skill_threshold(self) -> float:
        return self.skill_reference - (1 - SKILL_SHARE) * abs(self.skill_reference)

    @property
    def skilful(self) -> bool:
        return self.skill >= self.skill_threshold

    @property
    def calibrated(self) -> bool:
        return COVERAGE[0] <= self.coverage <= COVERAGE[1] and self.winkler < self.winkler_climatology


def score(forecast: np.ndarray, truth: dict[str, np.ndarray], reference: np.ndarray) -> Scores:
    """forecast/reference: (origins, 3, horizon); truth: the verification arrays of the variable."""
    mask = truth["mask"]
    t = truth["truth"][mask]
    value, lower, upper = (forecast[:, i, :][mask] for i in range(3))
    clim = truth["clim_value"][mask]
    alpha = 1.0 - records.INTERVAL
    return Scores(
        rmse=scoring.rmse(t, value),
        rmse_persistence=scoring.rmse(t, truth["persistence"][mask]),
        rmse_climatology=scoring.rmse(t, clim),
        skill=scoring.mse_skill(t, value, clim),
        skill_reference=scoring.mse_skill(t, reference[:, 0, :][mask], clim),
        coverage=scoring.coverage(t, lower, upper),
        winkler=scoring.winkler(t, lower, upper, alpha),
        winkler_climatology=scoring.winkler(t, truth["clim_lower"][mask], truth["clim_upper"][mask], alpha),
        points=int(mask.sum()),
    )


def comfortably_solvable(scores: Scores) -> bool:
    """The generator keeps an instance only when the reference clears every bar with room to spare."""
    return (scores.rmse <= 0.97 * scores.rmse_persistence and scores.rmse <= 0.98 * scores.rmse_climatology
            and 0.72 <= scores.coverage <= 0.88 and scores.winkler <= 0.97 * scores.winkler_climatology)
