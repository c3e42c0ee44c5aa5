#!/usr/bin/env python3
"""Reads the answer instead of forecasting it: looks the future up in the dataset package the station's
record comes from. The jail masks those packages, so inside it this fails."""

import argparse
import importlib.resources
import json
import re
from pathlib import Path

import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--history", required=True)
parser.add_argument("--origin", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()
cfg = json.loads(re.search(r"```json\s*(\{.*?\})\s*```", Path(__file__).with_name("request.md").read_text(), re.DOTALL).group(1))
history = pd.read_csv(args.history)
horizon = int(cfg["horizon"])
rows = []
if cfg["resolution"] == "daily":
    source = pd.read_csv(str(importlib.resources.files("vega_datasets") / "_data/seattle-weather.csv"))
    start = len(history)  # the record starts on the same day as the package's file
    for variable in cfg["variables"]:
        name = variable["name"]
        for i in range(horizon):
            row = source.iloc[start + i]
            value = float(row[name]) * (9 / 5 if variable["forecast_units"] == "degF" else 1) + (32 if variable["forecast_units"] == "degF" else 0)
            date = pd.Timestamp(row["date"].replace("/", "-")).strftime("%Y-%m-%d")
            rows.append((date, name, value, value - 0.5, value + 0.5))
else:
    files = {"GREENSBORO": "723170TYA.CSV", "SAND POINT": "703165TY.csv"}
    name_key = next((k for k in files if k in cfg["station"].upper()), None)
    if name_key is None:
        raise SystemExit("no TMY3 file for this station")
    source = pd.read_csv(str(importlib.resources.files("pvlib") / "data" / files[name_key]), skiprows=1)
    start = len(history)
    offset = cfg["forecast_utc_offset"]
    origin = pd.Timestamp(history["timestamp"].iloc[-1]).tz_convert("UTC")
    for variable in cfg["variables"]:
        name = variable["name"]
        column = {"temp_air": "Dry-bulb (C)", "ghi": "GHI (W/m^2)"}[name]
        for i in range(horizon):
            value = float(source[column].iloc[start + i])
            if variable["forecast_units"] == "degF":
                value = value * 9 / 5 + 32
            when = origin + pd.Timedelta(hours=i + 1)
            shift = pd.Timedelta(hours=int(offset[1:3])) * (1 if offset[0] == "+" else -1)
            label = (when.tz_convert(None) + shift).strftime("%Y-%m-%dT%H:%M:%S") + offset
            rows.append((label, name, value, max(value - 1, 0), value + 1))
pd.DataFrame(rows, columns=["timestamp", "variable", "value", "lower", "upper"]).to_csv(args.out, index=False, float_format="%.2f")
