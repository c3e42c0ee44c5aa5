"""How an instance is framed: the history file, the request and the plan of hidden hindcast origins.

Everything written here is deterministic text: the same seed gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from ale_gym.envs.weather_forecasting.stations import Station

DAILY_COLUMNS = ("precipitation", "temp_max", "temp_min", "wind", "weather")
HOURLY_COLUMNS = ("temp_air", "temp_dew", "relative_humidity", "pressure", "wind_speed", "wind_direction",
                  "ghi", "dni", "dhi")
UNITS = {"temp_max": "degC", "temp_min": "degC", "temp_air": "degC", "ghi": "W/m2"}
DESCRIPTIONS = {
    "temp_max": "daily maximum air temperature",
    "temp_min": "daily minimum air temperature",
    "temp_air": "dry-bulb air temperature (hourly value)",
    "ghi": "global horizontal irradiance (mean over the hour ending at the stamp)",
}
INTERVAL = 0.8
N_ORIGINS = 40
RUN_TIMEOUT_S = 60


@dataclass
class Plan:
    """The request as data, shared by the generator, the checkers and the request text."""

    station: Station
    resolution: str
    variables: list[dict[str, str]]  # name, history_units, forecast_units
    horizon: int
    origin_rows: list[int]  # row index of each hindcast origin in the record; the first is the live one
    history_offset: str = "+00:00"
    forecast_offset: str = "+00:00"
    extra: dict = field(default_factory=dict)

    @property
    def daily(self) -> bool:
        return self.resolution == "daily"

    def config(self) -> dict:
        """The machine-readable summary that request.md carries in a json block."""
        cfg = {
            "station": self.station.name,
            "latitude": self.station.latitude,
            "longitude": self.station.longitude,
            "elevation_m": self.station.elevation_m,
            "resolution": self.resolution,
            "horizon": self.horizon,
            "variables": self.variables,
            "interval": INTERVAL,
        }
        if not self.daily:
            cfg["history_utc_offset"] = self.history_offset
            cfg["forecast_utc_offset"] = self.forecast_offset
        return cfg

    def to_json(self) -> dict:
        return {"station": self.station.key, "resolution": self.resolution, "variables": self.variables,
                "horizon": self.horizon, "origin_rows": self.origin_rows, "history_offset": self.history_offset,
                "forecast_offset": self.forecast_offset}


def offset_delta(offset: str) -> pd.Timedelta:
    sign = 1 if offset[0] == "+" else -1
    return sign * pd.Timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))


def format_offset(hours: int) -> str:
    return f"{'+' if hours >= 0 else '-'}{abs(hours):02d}:00"


def stamp(instants: pd.DatetimeIndex, offset: str) -> list[str]:
    """ISO 8601 local times with an explicit offset, e.g. 2019-04-12T13:00:00-05:00."""
    local = instants.tz_convert(None) + offset_delta(offset)
    return [t.strftime("%Y-%m-%dT%H:%M:%S") + offset for t in local]


def record_csv(frame: pd.DataFrame, plan: Plan) -> str:
    """The record in the history format (what history.csv holds up to the origin)."""
    if plan.daily:
        table = frame[list(DAILY_COLUMNS)].copy()
        table.insert(0, "date", frame.index.strftime("%Y-%m-%d"))
    else:
        table = frame[list(HOURLY_COLUMNS)].copy()
        table.insert(0, "timestamp", stamp(frame.index, plan.history_offset))
    return table.to_csv(index=False, lineterminator="\n")


def origin_label(frame: pd.DataFrame, row: int, plan: Plan) -> str:
    """The --origin argument for a row: the time stamp of the last history row, as history.csv writes it."""
    if plan.daily:
        return frame.index[row].strftime("%Y-%m-%d")
    return stamp(frame.index[row:row + 1], plan.history_offset)[0]


def target_times(frame: pd.DataFrame, row: int, plan: Plan) -> pd.DatetimeIndex:
    step = pd.Timedelta(days=1) if plan.daily else pd.Timedelta(hours=1)
    return pd.date_range(frame.index[row] + step, periods=plan.horizon, freq=step)


def zone_text(offset: str, station: Station) -> str:
    if offset == "+00:00":
        return "UTC (offset +00:00)"
    return f"local standard time of the station (UTC{offset}, no daylight saving)"


def request_text(plan: Plan, origin: str, first_day: str, rows: int) -> str:
    """request.md: what the utility asks for, in prose, with the same facts as a json block."""
    import json

    st = plan.station
    unit_of = {v["name"]: v["forecast_units"] for v in plan.variables}
    step_word = "days" if plan.daily else "hours"
    lines = [
        f"# Forecast request: {st.name}",
        "",
        "The utility's operations desk needs a forecast for this station every day, with calibrated",
        "uncertainty, and a pipeline it can run itself. Deliver the pipeline, today's forecast and a short",
        "report.",
        "",
        "## Station and data",
        "",
        f"- Station: {st.name}; latitude {st.latitude}, longitude {st.longitude}, elevation {st.elevation_m:g} m.",
        f"- Source: {st.source}" + (" (a typical meteorological year: each calendar month is a real month of "
                                     "observations, the months come from different years and are labelled as "
                                     "one year)" if not plan.daily else "") + ".",
        (f"- `history.csv`: {rows} {'daily' if plan.daily else 'hourly'} rows from {first_day} up to and "
         f"including the forecast origin {origin}."),
    ]
    if plan.daily:
        lines += [
            "- Columns: `date` (YYYY-MM-DD, local calendar day), `precipitation` (mm), `temp_max` and `temp_min`",
            "  (degC), `wind` (m/s), `weather` (a text label).",
        ]
    else:
        lines += [
            f"- Columns: `timestamp` (ISO 8601 with offset, in {zone_text(plan.history_offset, st)}; each row",
            "  describes the hour that ends at the stamp), `temp_air` and `temp_dew` (degC), `relative_humidity`",
            "  (%), `pressure` (mbar), `wind_speed` (m/s), `wind_direction` (degrees), `ghi`, `dni`, `dhi`",
            "  (W/m2, mean over the hour).",
        ]
    lines += ["", "## What to forecast", ""]
    for variable in plan.variables:
        name = variable["name"]
        lines.append(f"- `{name}`: {DESCRIPTIONS[name]}, in {unit_of[name]}"
                     + (f" (history.csv has {variable['history_units']})"
                        if variable["history_units"] != variable["forecast_units"] else "") + ".")
    if plan.daily:
        lines.append(f"- Horizon: the {plan.horizon} days after the origin (the origin's own day is observed).")
        lines.append("- Forecast time stamps: calendar dates `YYYY-MM-DD`.")
    else:
        example = "2019-04-12T13:00:00" + plan.forecast_offset
        lines.append(f"- Horizon: the {plan.horizon} hours after the origin, hour-ending like the history.")
        lines.append(f"- Forecast time stamps: {zone_text(plan.forecast_offset, st)}, ISO 8601 with the offset, "
                     f"e.g. `{example}`.")
    lines += [
        f"- Uncertainty: the central {INTERVAL:.0%} interval (the 10th and 90th percentiles) of every value.",
        "",
        "## Deliverables (in this folder)",
        "",
        "1. `forecast.py`: `python3 forecast.py --history H.csv --origin T --out F.csv` writes the forecast for",
        f"   the {plan.horizon} {step_word} after T using only the file H (same format as history.csv, ending at T;",
        "   T is written exactly like H's last time stamp). It may read other files of this folder (for",
        f"   example request.md) but nothing else, and must finish within {RUN_TIMEOUT_S} s. Python 3 with numpy,",
        "   pandas, scipy and pvlib is available (pvlib's bundled data files are not); there is no network.",
        "2. `forecast.csv`: the forecast from the origin above, produced by `forecast.py` on `history.csv`.",
        "   Columns `timestamp,variable,value,lower,upper`; one row per variable and time stamp, no gaps, no",
        "   NaN, `lower <= value <= upper`, in the units and time zone requested above.",
        "3. `report.md`: the method, and your own backtest numbers on the history.",
        "",
        "## How the work is accepted",
        "",
        "- `forecast.py` is re-run on `history.csv`: it must reproduce `forecast.csv` within 0.1 units.",
        f"- It is then run as hindcasts from {N_ORIGINS} origins (today's and {N_ORIGINS - 1} later ones spread over the",
        "  rest of the record, whose observations you do not have), each time on the history up to that",
        "  origin, and scored on what was then observed:",
        "  - RMSE at least 1% below persistence (" + ("the origin's value for every day" if plan.daily else
                                                      "the last observed value at the same hour of the day")
        + ") and at least 1% below climatology from the history (" + (
            "the mean of the values within 15 days of the date in earlier years" if plan.daily else
            "the mean at the same hour of the day over the last 30 days") + "), for every variable;",
        "  - mean-squared-error skill against that climatology at least 80% of the skill of the desk's",
        "    own reference method (a documented statistical method) on the same origins;",
        "  - 80% intervals covering between 70% and 90% of the observations, with a mean Winkler interval",
        "    score below that of the climatological 10th-90th percentile interval.",
    ]
    if any(v["name"] == "ghi" for v in plan.variables):
        lines.append("  - Irradiance is scored over the hours with the sun above the horizon during the hour.")
    lines += [
        "- Numbers in report.md are read by people; the acceptance numbers are computed by the desk.",
        "",
        "## Summary (machine-readable)",
        "",
        "```json",
        json.dumps({"origin": origin, **plan.config()}, indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)
