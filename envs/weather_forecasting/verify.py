"""Reading a forecast file strictly: the requested stamps in the requested zone, units that make sense.

Any problem raises DeliverableError with a reason a forecaster would understand; nothing here trusts
the file to be well formed.
"""

from __future__ import annotations

import csv
import io
import math
import re

import numpy as np
import pandas as pd
from ale_gym.envs.weather_forecasting.records import Plan, offset_delta, stamp

from ale_gym.tasks.base import DeliverableError

COLUMNS = ("timestamp", "variable", "value", "lower", "upper")
DAILY_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}$")
HOURLY_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(Z|[+-]\d{2}:\d{2})$")
MAX_ROWS = 100_000


def plausible_range(name: str, units: str) -> tuple[float, float]:
    if name == "ghi":
        return 0.0, 1500.0
    low, high = -60.0, 60.0  # degC: beyond the records of any station here by far
    if units == "degF":
        return low * 9 / 5 + 32, high * 9 / 5 + 32
    return low, high


def parse_stamp(text: str, plan: Plan) -> str:
    """The key of a stamp (date, or the UTC instant) after checking its format and zone."""
    text = text.strip()
    if plan.daily:
        if not DAILY_STAMP.match(text):
            raise DeliverableError(f"time stamp {text[:40]!r} is not a date YYYY-MM-DD")
        try:
            return pd.Timestamp(text).strftime("%Y-%m-%d")
        except ValueError:
            raise DeliverableError(f"time stamp {text[:40]!r} is not a valid date") from None
    match = HOURLY_STAMP.match(text)
    if not match:
        raise DeliverableError(f"time stamp {text[:40]!r} is not ISO 8601 with a UTC offset")
    offset = "+00:00" if match.group(2) == "Z" else match.group(2)
    if offset != plan.forecast_offset:
        raise DeliverableError(f"time stamp {text[:40]!r} is at UTC{offset}; the request asks for UTC{plan.forecast_offset}")
    try:
        local = pd.Timestamp(match.group(1))
    except ValueError:
        raise DeliverableError(f"time stamp {text[:40]!r} is not a valid time") from None
    return (local - offset_delta(offset)).strftime("%Y-%m-%dT%H:%M")


def target_keys(targets: pd.DatetimeIndex, plan: Plan) -> list[str]:
    if plan.daily:
        return [t.strftime("%Y-%m-%d") for t in targets]
    return [t.tz_convert(None).strftime("%Y-%m-%dT%H:%M") for t in targets]


def read_forecast(text: str, plan: Plan, targets: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Variable -> array (3, horizon) of value, lower, upper in the order of `targets`."""
    keys = target_keys(targets, plan)
    shown = keys if plan.daily else stamp(targets, plan.forecast_offset)
    position = {k: i for i, k in enumerate(keys)}
    wanted = {v["name"]: v["forecast_units"] for v in plan.variables}
    result = {name: np.full((3, len(keys)), np.nan) for name in wanted}
    try:
        reader = csv.reader(io.StringIO(text))
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as exc:
        raise DeliverableError(f"not a readable CSV file: {exc}") from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DeliverableError(f"the header lacks column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
    index = {c: header.index(c) for c in COLUMNS}
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise DeliverableError(f"not a readable CSV file: {exc}") from None
    if len(rows) > MAX_ROWS:
        raise DeliverableError(f"{len(rows)} rows; expected {len(keys) * len(wanted)}")
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise DeliverableError(f"line {number} has {len(row)} fields; the header has {len(header)}")
        name = row[index["variable"]].strip()
        if name not in wanted:
            raise DeliverableError(f"line {number}: variable {name[:40]!r} was not requested (requested: {', '.join(wanted)})")
        key = parse_stamp(row[index["timestamp"]], plan)
        if key not in position:
            raise DeliverableError(f"line {number}: {row[index['timestamp']].strip()[:40]} is not one of the "
                                   f"{len(keys)} requested time stamps ({shown[0]} .. {shown[-1]})")
        column = position[key]
        if not np.isnan(result[name][0, column]):
            raise DeliverableError(f"line {number}: a second row for {name} at {row[index['timestamp']].strip()}")
        numbers = []
        for field in ("value", "lower", "upper"):
            try:
                number_value = float(row[index[field]])
            except ValueError:
                raise DeliverableError(f"line {number}: {field} {row[index[field]][:20]!r} is not a number") from None
            if not math.isfinite(number_value):
                raise DeliverableError(f"line {number}: {field} is {number_value}")
            numbers.append(number_value)
        value, lower, upper = numbers
        if not lower <= value <= upper:
            raise DeliverableError(f"line {number}: {name} needs lower <= value <= upper, got {lower}, {value}, {upper}")
        low, high = plausible_range(name, wanted[name])
        if not low <= value <= high:
            raise DeliverableError(f"line {number}: {name} = {value} is not plausible in {wanted[name]} "
                                   f"(expected {low:g} to {high:g})")
        result[name][:, column] = numbers
    for name, values in result.items():
        gaps = np.flatnonzero(np.isnan(values[0]))
        if len(gaps):
            raise DeliverableError(f"{name}: {len(gaps)} of {len(keys)} requested time stamps are missing "
                                   f"(first: {shown[gaps[0]]})")
    return result
