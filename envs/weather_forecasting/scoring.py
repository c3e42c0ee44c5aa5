"""Verification of station forecasts: the two baselines every forecaster must beat, and the scores.

Persistence repeats the last observation (daily data) or the last observed value at the same hour of
the day (hourly data, diurnal persistence). Climatology is built from the history alone: for daily
data, the values within 15 days of the target's calendar day in earlier years; for hourly data, the
values at the target's hour of the day over the last 30 days. Its 80% interval is the 10th to 90th
percentile of the same sample. Interval scores are Winkler's: width plus 2/alpha times the miss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CLIMATE_WINDOW_DAYS = 15
RECENT_DAYS = 30


@dataclass(frozen=True)
class Baseline:
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def persistence(series: pd.Series, targets: pd.DatetimeIndex, daily: bool) -> np.ndarray:
    """Last value (daily) or the last observed value at the same hour of the day (hourly)."""
    if daily:
        return np.full(len(targets), float(series.iloc[-1]))
    last = series.index[-1]
    lead_hours = ((targets - last) / pd.Timedelta(hours=1)).to_numpy()
    back = np.ceil(lead_hours / 24.0) * 24.0
    source = targets - pd.to_timedelta(back, unit="h")
    return series.reindex(source).to_numpy(float)


def climatology(series: pd.Series, targets: pd.DatetimeIndex, daily: bool, alpha: float) -> Baseline:
    """Mean and central (1 - alpha) quantile interval of the climatological sample of each target."""
    values = series.to_numpy(float)
    index = series.index
    mean, lower, upper = (np.empty(len(targets)) for _ in range(3))
    for i, target in enumerate(targets):
        if daily:
            offsets = (index - target).days.to_numpy()
            # Same season in earlier years: within 15 days of the target's date 1, 2, 3... years back.
            years = np.round(offsets / 365.25)
            mask = (years <= -1) & (np.abs(offsets - years * 365.25) <= CLIMATE_WINDOW_DAYS + 0.5)
            if mask.sum() < 10:
                mask = np.zeros(len(values), bool)
                mask[-RECENT_DAYS:] = True
        else:
            recent = index > index[-1] - pd.Timedelta(days=RECENT_DAYS)
            mask = recent & (index.hour == target.hour)
        sample = values[mask]
        sample = sample[np.isfinite(sample)]
        mean[i] = sample.mean()
        lower[i], upper[i] = np.quantile(sample, [alpha / 2, 1 - alpha / 2])
    return Baseline(mean, lower, upper)


def rmse(truth: np.ndarray, value: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(value) - np.asarray(truth)) ** 2)))


def coverage(truth: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    return float(np.mean((truth >= lower) & (truth <= upper)))


def winkler(truth: np.ndarray, lower: np.ndarray, upper: np.ndarray, alpha: float) -> float:
    """Mean Winkler interval score: narrow intervals are rewarded, misses penalised by 2/alpha."""
    width = upper - lower
    below = np.clip(lower - truth, 0, None)
    above = np.clip(truth - upper, 0, None)
    return float(np.mean(width + 2.0 / alpha * (below + above)))


def mse_skill(truth: np.ndarray, value: np.ndarray, reference: np.ndarray) -> float:
    """1 - MSE / MSE(reference): 0 is no better than the reference, 1 is perfect."""
    denominator = float(np.mean((np.asarray(reference) - truth) ** 2))
    if denominator == 0:
        return 0.0
    return 1.0 - float(np.mean((np.asarray(value) - truth) ** 2)) / denominator
