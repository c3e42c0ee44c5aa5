#!/usr/bin/env python3
"""Persistence dressed up as a pipeline: the last value (daily) or the last value at the same hour,
with an interval from the spread of past changes over the same lead."""

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--history", required=True)
parser.add_argument("--origin", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()
cfg = json.loads(re.search(r"```json\s*(\{.*?\})\s*```", Path(__file__).with_name("request.md").read_text(), re.DOTALL).group(1))
daily = cfg["resolution"] == "daily"
frame = pd.read_csv(args.history)
stamps = frame["date" if daily else "timestamp"]
times = pd.to_datetime(stamps, format="%Y-%m-%d") if daily else pd.to_datetime(stamps, utc=True, format="ISO8601")
horizon = int(cfg["horizon"])
step = pd.Timedelta(days=1) if daily else pd.Timedelta(hours=1)
targets = pd.date_range(times.iloc[-1] + step, periods=horizon, freq=step)
rows = []
for variable in cfg["variables"]:
    y = frame[variable["name"]].to_numpy(float)
    for h in range(1, horizon + 1):
        lag = h if daily else 24 * int(np.ceil(h / 24))
        value = y[-1] if daily else y[len(y) - 1 - lag + h]
        changes = y[lag:] - y[:-lag]
        lo, hi = np.quantile(changes[-2000:], [0.1, 0.9])
        values = np.array([value, value + min(lo, 0), value + max(hi, 0)])
        if variable["forecast_units"] == "degF" and variable["history_units"] == "degC":
            values = values * 9 / 5 + 32
        if variable["name"] == "ghi":
            values = np.clip(values, 0, None)
        t = targets[h - 1]
        if daily:
            label = t.strftime("%Y-%m-%d")
        else:
            offset = cfg["forecast_utc_offset"]
            shift = pd.Timedelta(hours=int(offset[1:3])) * (1 if offset[0] == "+" else -1)
            label = (t.tz_convert(None) + shift).strftime("%Y-%m-%dT%H:%M:%S") + offset
        rows.append((label, variable["name"], *values))
pd.DataFrame(rows, columns=["timestamp", "variable", "value", "lower", "upper"]).to_csv(args.out, index=False, float_format="%.2f")
