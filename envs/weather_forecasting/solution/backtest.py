"""Backtest forecast.py on the history it was given and write report.md.

Runs the pipeline's own functions from 12 past origins spread over the last months of history.csv,
and scores them against persistence and climatology built from the history up to each origin.
"""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd

spec = importlib.util.spec_from_file_location("pipeline", Path("forecast.py").resolve())
pipeline = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pipeline)

cfg = pipeline.read_request("request.md")
history = pipeline.load_history("history.csv", cfg)
daily = cfg["resolution"] == "daily"
horizon = int(cfg["horizon"])
step = pd.Timedelta(days=1) if daily else pd.Timedelta(hours=1)
span = 180 if daily else 24 * 30
# Daily models need a year of history for their climatology: backtest where a live run would have one.
first = max(len(history) - 1 - span, min(470, len(history) - 1 - horizon - 24)) if daily else len(history) - 1 - span
origins = np.linspace(first, len(history) - 1 - horizon, 12).astype(int)
scores = {v["name"]: {"f": [], "p": [], "c": [], "t": [], "lo": [], "hi": []} for v in cfg["variables"]}
for row in origins:
    past = history.iloc[:row + 1]
    table = pipeline.make_forecast(past, past.index[-1], cfg)
    targets = pd.date_range(past.index[-1] + step, periods=horizon, freq=step)
    for variable in cfg["variables"]:
        name = variable["name"]
        part = table[table["variable"] == name]
        series = past[name].to_numpy(float)
        if daily:
            persistence = np.full(horizon, series[-1])
            climatology = np.full(horizon, series[-30:].mean())
        else:
            back = [24 * math.ceil(h / 24) for h in range(1, horizon + 1)]
            persistence = np.array([series[len(series) - 1 - b + h] for h, b in zip(range(1, horizon + 1), back)])
            climatology = np.array([series[len(series) - 1 - b + h::-24][:30].mean()
                                    for h, b in zip(range(1, horizon + 1), back)])
        truth = history[name].reindex(targets).to_numpy(float)
        convert = (lambda v: v * 9 / 5 + 32) if variable["forecast_units"] != variable["history_units"] else (lambda v: v)
        entry = scores[name]
        entry["f"].append(part["value"].to_numpy())
        entry["lo"].append(part["lower"].to_numpy())
        entry["hi"].append(part["upper"].to_numpy())
        entry["p"].append(convert(persistence))
        entry["c"].append(convert(climatology))
        entry["t"].append(convert(truth))

lines = [
    f"# Forecast pipeline report: {cfg['station']}",
    "",
    "## Method",
    "",
    "For each lead time the value to come is regressed, over the recent history, on the target's climatology",
    "(daily data: the mean within 15 days of the date in earlier years; hourly data: the last 30 days at the",
    "same hour), persistence (the last value, or the last value at the same hour), the current departure from",
    "climatology and its recent mean. Irradiance uses a clear-sky model (solar geometry and the Haurwitz",
    "formula): climatology is rescaled by the clear-sky irradiance of the target day, and cloudiness anomalies",
    "(clear-sky index departures over the last day and the last three hours) are regressed per lead in W/m2.",
    "The 80% interval is the 10th-90th percentile of the regression errors at that lead (from the same season",
    "for daily data), widened by 15% for temperature because in-sample errors understate errors to come.",
    "",
    (f"## Backtest ({len(origins)} origins from {history.index[origins[0]]:%Y-%m-%d %H:%M} to "
     f"{history.index[origins[-1]]:%Y-%m-%d %H:%M})"),
    "",
    "| variable | RMSE | persistence RMSE | climatology RMSE | MSE skill vs climatology | 80% coverage |",
    "|---|---|---|---|---|---|",
]
for name, entry in scores.items():
    f, p, c, t, lo, hi = (np.concatenate(entry[k]) for k in ("f", "p", "c", "t", "lo", "hi"))
    if name == "ghi":
        keep = (t > 0) | (f > 0)
        f, p, c, t, lo, hi = (a[keep] for a in (f, p, c, t, lo, hi))
    def rmse(a: np.ndarray, truth: np.ndarray = t) -> float:
        return float(np.sqrt(np.mean((a - truth) ** 2)))

    skill = 1 - rmse(f) ** 2 / rmse(c) ** 2
    coverage = float(np.mean((t >= lo) & (t <= hi)))
    lines.append(f"| {name} | {rmse(f):.2f} | {rmse(p):.2f} | {rmse(c):.2f} | {skill:.2f} | {coverage:.2f} |")
lines += ["", "Climatology here is the plain 30-day mean; the backtest reuses the parameters a live run would fit.", ""]
Path("report.md").write_text("\n".join(lines))
print("\n".join(lines))
