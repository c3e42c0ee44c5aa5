#!/usr/bin/env python3
"""Station forecast pipeline: lead-by-lead regression on climatology, persistence and recent anomalies.

Usage: python forecast.py --history H.csv --origin T --out F.csv [--request request.md]

Temperature: for every lead time the value to come is regressed, over the recent history, on what a
forecaster knows at the origin: the target's climatology (daily data: the mean within 15 days of the
date in earlier years; hourly data: the last 30 days at the same hour), persistence (the last value,
or the last value at the same hour), the current departure from climatology and its recent mean. The
regression weighs the baselines against the anomalies lead by lead, so early leads lean on
persistence and late leads fall back to climatology.
Irradiance: the hour's climatology is rescaled by a clear-sky model (Spencer's solar geometry and
the Haurwitz formula) for the target day, and cloudiness anomalies (clear-sky index departures of
the last day and the last three hours) are regressed per lead in W/m2.
The 80% interval is the 10th-90th percentile of the regression errors at that lead (errors from the
same season for daily data; temperature intervals widened by 15% because errors on the fitting sample
understate the errors to come). Only numpy and pandas.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

CLIMATE_DAYS = 30  # hourly climatology: the last 30 days at the same hour
SEASON_DAYS = 15  # daily climatology: within 15 days of the date in earlier years
FIT_DAYS_HOURLY = 60  # hourly regressions are fitted on the last 60 days of origins
MIN_SEASONAL_ORIGINS = 100  # fewer days with a climatology than this: use the 30-day mean instead
SEASON_WEIGHT_DAYS = 45  # daily interval errors come from origins within 45 days of the season
WIDEN = 1.15  # temperature errors on the fitting sample understate the errors to come
CLEAR_SKY_MIN = 30.0  # W/m2 below which the clear-sky index is not used


def read_request(path: str | Path) -> dict:
    """The machine-readable block (```json ... ```) of request.md."""
    text = Path(path).read_text("utf-8")
    match = re.search(r"```json\s*(\{.*?\})\s*```", text, re.DOTALL)
    if not match:
        raise SystemExit(f"{path}: no ```json block with the request summary")
    return json.loads(match.group(1))


def parse_times(values, cfg: dict) -> pd.DatetimeIndex:
    """Daily data are calendar dates; hourly timestamps carry an offset and become UTC instants."""
    if cfg["resolution"] == "daily":
        return pd.DatetimeIndex(pd.to_datetime(pd.Series(values), format="%Y-%m-%d"))
    return pd.DatetimeIndex(pd.to_datetime(pd.Series(values), utc=True, format="ISO8601"))


def load_history(path: str | Path, cfg: dict) -> pd.DataFrame:
    frame = pd.read_csv(path)
    time_column = "date" if cfg["resolution"] == "daily" else "timestamp"
    frame.index = parse_times(frame.pop(time_column), cfg)
    return frame.sort_index()


def convert(values: np.ndarray, source: str, target: str) -> np.ndarray:
    if source == target:
        return values
    if (source, target) == ("degC", "degF"):
        return values * 9.0 / 5.0 + 32.0
    if (source, target) == ("degF", "degC"):
        return (values - 32.0) * 5.0 / 9.0
    raise SystemExit(f"cannot convert {source} to {target}")


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, quantiles: tuple[float, float]) -> tuple[float, float]:
    order = np.argsort(values)
    cdf = (np.cumsum(weights[order]) - 0.5 * weights[order]) / weights.sum()
    lo, hi = np.interp(quantiles, cdf, values[order])
    return float(lo), float(hi)


def fit_lead(x: np.ndarray, y: np.ndarray, x_now: np.ndarray) -> tuple[float, np.ndarray]:
    """Least squares for one lead time: the forecast from x_now, and the fitting errors."""
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(x_now @ coef), y - x @ coef


# --- daily data ------------------------------------------------------------------------------------------

def seasonal_climatology(values: np.ndarray, days: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mean of the values within SEASON_DAYS of each target's date one, two, ... years earlier."""
    result = np.full(len(targets), np.nan)
    for i, target in enumerate(targets):
        offsets = days - target
        years = np.round(offsets / 365.25)
        mask = (years <= -1) & (np.abs(offsets - years * 365.25) <= SEASON_DAYS + 0.5)
        if mask.sum() >= 10:
            result[i] = values[mask].mean()
    return result


def trailing_mean(values: np.ndarray, width: int) -> np.ndarray:
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - width, 0)
    return (cumulative[ends] - cumulative[starts]) / (ends - starts)


def forecast_daily(history: pd.DataFrame, names: list[str], horizon: int, quantiles: tuple[float, float]):
    """Tmax/Tmin-style daily variables: one regression per variable and lead."""
    days = ((history.index - pd.Timestamp("2000-01-01")) / pd.Timedelta(days=1)).to_numpy(float)
    future = days[-1] + np.arange(1, horizon + 1)
    everything = np.concatenate([days, future])
    series = {n: history[n].to_numpy(float) for n in names}
    climate = {n: seasonal_climatology(series[n], days, everything) for n in names}
    anomaly = {n: series[n] - climate[n][:len(days)] for n in names}
    usable = min(int(np.isfinite(anomaly[n]).sum()) for n in names)
    if usable < MIN_SEASONAL_ORIGINS or any(np.isnan(climate[n][len(days):]).any() for n in names):
        # About a year of history or less: the recent 30-day mean stands in for climatology.
        for n in names:
            level = trailing_mean(series[n], 30)
            climate[n] = np.concatenate([level, np.full(horizon, level[-1])])
            anomaly[n] = series[n] - level
    n_days = len(days)
    anomaly_week = {n: trailing_mean(np.nan_to_num(anomaly[n]), 7) for n in names}
    anomaly_month = {n: trailing_mean(np.nan_to_num(anomaly[n]), 30) for n in names}
    results = {}

    def features(o: np.ndarray, name: str, h: int) -> np.ndarray:
        columns = [np.ones(len(o)), climate[name][o + h], series[name][o], anomaly[name][o],
                   anomaly_week[name][o], anomaly_month[name][o]]
        columns += [np.nan_to_num(anomaly[other][o]) for other in names if other != name]
        return np.column_stack(columns)

    for name in names:
        point, lower, upper = (np.empty(horizon) for _ in range(3))
        for h in range(1, horizon + 1):
            origins = np.arange(30, n_days - h)
            origins = origins[np.isfinite(climate[name][origins + h]) & np.isfinite(anomaly[name][origins])]
            x_now = features(np.array([n_days - 1]), name, h)[0]
            mean, errors = fit_lead(features(origins, name, h), series[name][origins + h], x_now)
            # Errors from origins in the same season (any year) describe this season's spread.
            gap = np.abs(((days[origins + h] - future[h - 1]) / 365.25 + 0.5) % 1.0 - 0.5) * 365.25
            weights = np.where(gap <= SEASON_WEIGHT_DAYS, 1.0, 0.02)
            lo, hi = weighted_quantiles(errors, weights, quantiles)
            point[h - 1], lower[h - 1], upper[h - 1] = mean, mean + WIDEN * lo, mean + WIDEN * hi
        results[name] = (point, lower, upper)
    return results


# --- hourly data -----------------------------------------------------------------------------------------

def same_hour_mean(values: np.ndarray, days: int) -> np.ndarray:
    """Mean of each value and the values at the same hour on the previous days-1 days."""
    result = np.empty(len(values))
    for lane in range(24):
        idx = np.arange(lane, len(values), 24)
        cumulative = np.concatenate([[0.0], np.cumsum(values[idx])])
        j = np.arange(1, len(idx) + 1)
        first = np.maximum(j - days, 0)
        result[idx] = (cumulative[j] - cumulative[first]) / (j - first)
    return result


def solar_cos_zenith(times_utc: pd.DatetimeIndex, latitude: float, longitude: float) -> np.ndarray:
    """Cosine of the solar zenith angle (Spencer's declination and equation of time)."""
    doy = times_utc.day_of_year.to_numpy(float)
    hours = times_utc.hour.to_numpy(float) + times_utc.minute.to_numpy(float) / 60.0
    gamma = 2 * np.pi / 365.0 * (doy - 1 + (hours - 12) / 24)
    declination = (0.006918 - 0.399912 * np.cos(gamma) + 0.070257 * np.sin(gamma) - 0.006758 * np.cos(2 * gamma)
                   + 0.000907 * np.sin(2 * gamma) - 0.002697 * np.cos(3 * gamma) + 0.00148 * np.sin(3 * gamma))
    eot = 229.18 * (0.000075 + 0.001868 * np.cos(gamma) - 0.032077 * np.sin(gamma) - 0.014615 * np.cos(2 * gamma)
                    - 0.040849 * np.sin(2 * gamma))
    hour_angle = np.radians((hours * 60 + eot + 4 * longitude) / 4 - 180)
    lat = np.radians(latitude)
    return np.sin(lat) * np.sin(declination) + np.cos(lat) * np.cos(declination) * np.cos(hour_angle)


def clear_sky_hour_ending(times_utc: pd.DatetimeIndex, latitude: float, longitude: float) -> np.ndarray:
    """Haurwitz clear-sky GHI averaged over the hour that ends at each timestamp."""
    total = np.zeros(len(times_utc))
    for minutes in (52.5, 37.5, 22.5, 7.5):
        cos_z = solar_cos_zenith(times_utc - pd.Timedelta(minutes=minutes), latitude, longitude)
        safe = np.where(cos_z > 0.01, cos_z, 1.0)
        total += np.where(cos_z > 0.01, 1098.0 * cos_z * np.exp(-0.057 / safe), 0.0)
    return total / 4


def forecast_temperature(y: pd.Series, horizon: int, quantiles: tuple[float, float]):
    """Hourly temperature: per lead, regress on the hour's climatology, diurnal persistence, the
    current anomaly and the mean anomaly of the last day."""
    values = y.to_numpy(float)
    n = len(values)
    climate = same_hour_mean(values, CLIMATE_DAYS)
    anomaly = values - climate
    anomaly_day = trailing_mean(anomaly, 24)
    point, lower, upper = (np.zeros(horizon) for _ in range(3))
    first = max(n - 24 * FIT_DAYS_HOURLY, 24 * 2)

    def features(o: np.ndarray, h: int) -> np.ndarray:
        s = o + h - 24 * int(np.ceil(h / 24))  # the last time at or before o with the target's hour
        return np.column_stack([np.ones(len(o)), climate[s], values[s], anomaly[o], anomaly_day[o]])

    for h in range(1, horizon + 1):
        origins = np.arange(first, n - h)
        mean, errors = fit_lead(features(origins, h), values[origins + h], features(np.array([n - 1]), h)[0])
        lo, hi = weighted_quantiles(errors, np.ones(len(errors)), quantiles)
        point[h - 1], lower[h - 1], upper[h - 1] = mean, mean + WIDEN * lo, mean + WIDEN * hi
    return point, lower, upper


def forecast_irradiance(y: pd.Series, horizon: int, quantiles: tuple[float, float], clear: np.ndarray):
    """Hourly GHI: the hour's climatology rescaled by the clear-sky irradiance of the target day, plus
    cloudiness anomalies (clear-sky index departures of the last day and the last 3 hours) regressed
    per lead in W/m2. `clear` covers the history and then the horizon."""
    values = y.to_numpy(float)
    n = len(values)
    climate = same_hour_mean(values, CLIMATE_DAYS)
    clear_mean = same_hour_mean(clear[:n], CLIMATE_DAYS)
    # Index anomalies weighted by clear sky, with a prior weight so a lone sunrise hour says little.
    sunny = np.where(clear[:n] >= CLEAR_SKY_MIN, clear[:n], 0.0)
    excess = np.where(sunny > 0, values - climate, 0.0)

    def index_anomaly(width: int, prior: float) -> np.ndarray:
        count = np.minimum(np.arange(1, n + 1), width)
        return trailing_mean(excess, width) * count / (trailing_mean(sunny, width) * count + prior)

    k_day, k_recent = index_anomaly(24, 500.0), index_anomaly(3, 300.0)
    point, lower, upper = (np.zeros(horizon) for _ in range(3))
    first = max(n - 24 * FIT_DAYS_HOURLY, 24 * 2)

    def baseline(o: np.ndarray, h: int) -> np.ndarray:
        s = o + h - 24 * int(np.ceil(h / 24))
        ratio = clear[o + h] / np.where(clear_mean[s] > 1.0, clear_mean[s], np.inf)
        return climate[s] * ratio

    def anomalies(o: np.ndarray, h: int) -> np.ndarray:
        return clear[o + h][:, None] * np.column_stack([k_day[o], k_recent[o]])

    for h in range(1, horizon + 1):
        now = np.array([n - 1])
        target_clear = clear[n - 1 + h]
        if target_clear < CLEAR_SKY_MIN:
            point[h - 1] = max(0.0, float(baseline(now, h)[0]))
            upper[h - 1] = 2.0 * point[h - 1] + 5.0
            continue
        origins = np.arange(first, n - h)
        origins = origins[clear[origins + h] >= CLEAR_SKY_MIN]
        # The rescaled climatology is kept as it is (weighing it by a fitted coefficient proved fragile
        # out of sample); only the cloudiness anomalies are regressed on.
        mean, errors = fit_lead(anomalies(origins, h), values[origins + h] - baseline(origins, h), anomalies(now, h)[0])
        mean = max(0.0, mean + float(baseline(now, h)[0]))
        # Errors grow with the clear-sky irradiance: take their quantiles in clear-sky units.
        scale = clear[origins + h]
        lo, hi = weighted_quantiles(errors / scale, scale, quantiles)
        point[h - 1] = mean
        lower[h - 1] = max(0.0, mean + lo * target_clear)
        upper[h - 1] = mean + hi * target_clear
    return point, lower, upper


# --- the pipeline --------------------------------------------------------------------------------------

def format_stamps(targets: pd.DatetimeIndex, cfg: dict) -> list[str]:
    if cfg["resolution"] == "daily":
        return [t.strftime("%Y-%m-%d") for t in targets]
    offset = cfg["forecast_utc_offset"]
    sign = 1 if offset[0] == "+" else -1
    delta = pd.Timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])) * sign
    return [(t.tz_convert(None) + delta).strftime("%Y-%m-%dT%H:%M:%S") + offset for t in targets]


def make_forecast(history: pd.DataFrame, origin: pd.Timestamp, cfg: dict) -> pd.DataFrame:
    """The long-format forecast (timestamp, variable, value, lower, upper) for the horizon after origin."""
    history = history[history.index <= origin]
    daily = cfg["resolution"] == "daily"
    horizon = int(cfg["horizon"])
    step = pd.Timedelta(days=1) if daily else pd.Timedelta(hours=1)
    if len(history) == 0 or history.index[-1] != origin:
        raise SystemExit(f"the history does not end at the origin {origin}")
    targets = pd.date_range(origin + step, periods=horizon, freq=step)
    alpha = 1.0 - float(cfg["interval"])
    quantiles = (alpha / 2, 1 - alpha / 2)
    names = [v["name"] for v in cfg["variables"]]
    filled = history[names].astype(float).interpolate(limit_direction="both")
    if daily:
        results = forecast_daily(filled, names, horizon, quantiles)
    else:
        clear = clear_sky_hour_ending(history.index.append(targets), cfg["latitude"], cfg["longitude"])
        results = {n: forecast_irradiance(filled[n], horizon, quantiles, clear) if n == "ghi"
                   else forecast_temperature(filled[n], horizon, quantiles) for n in names}
    stamps = format_stamps(targets, cfg)
    parts = []
    for variable in cfg["variables"]:
        point, lower, upper = (convert(v, variable["history_units"], variable["forecast_units"])
                               for v in results[variable["name"]])
        lower, upper = np.minimum(lower, point), np.maximum(upper, point)
        parts.append(pd.DataFrame({"timestamp": stamps, "variable": variable["name"], "value": point,
                                   "lower": lower, "upper": upper}))
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--request", default=str(Path(__file__).resolve().with_name("request.md")))
    args = parser.parse_args()
    cfg = read_request(args.request)
    history = load_history(args.history, cfg)
    origin = parse_times([args.origin], cfg)[0]
    make_forecast(history, origin, cfg).to_csv(args.out, index=False, float_format="%.2f")


if __name__ == "__main__":
    main()
