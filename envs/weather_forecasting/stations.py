"""The station records this task forecasts, read from the packages that ship them offline.

Only real observations: vega_datasets' Seattle daily weather (2012-2015) and pvlib's typical
meteorological year files (hourly, each calendar month observed in one real year). vega_datasets'
hourly `seattle_temps`/`sf_temps` are smooth climate normals rather than observations (their
day-to-day change is a fifth of a degree), so they are not used. Timestamps are built here from the
files' own date and hour fields, so the result does not depend on a reader's labelling conventions.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

TMY_YEAR = 2019  # TMY months come from different years; they are relabelled to one calendar year
HOURLY_COLUMNS = ("temp_air", "temp_dew", "relative_humidity", "pressure", "wind_speed", "wind_direction",
                  "ghi", "dni", "dhi")


@dataclass(frozen=True)
class Station:
    key: str
    name: str
    resolution: str  # "daily" or "hourly"
    latitude: float
    longitude: float
    elevation_m: float
    utc_offset_hours: int  # local standard time of the record
    source: str


STATIONS: dict[str, Station] = {
    "seattle": Station("seattle", "Seattle, WA (NOAA daily summaries)", "daily", 47.61, -122.33, 56.0, -8,
                       "vega_datasets seattle_weather"),
    "greensboro": Station("greensboro", "Greensboro Piedmont Triad Intl., NC (USAF 723170)", "hourly", 36.1, -79.95,
                          273.0, -5, "pvlib TMY3 723170TYA.CSV"),
    "sand_point": Station("sand_point", "Sand Point, AK (USAF 703165)", "hourly", 55.317, -160.517, 7.0, -9,
                          "pvlib TMY3 703165TY.csv"),
    "miami": Station("miami", "Miami, FL (WBAN 12839)", "hourly", 25.8, -80.267, 2.0, -5, "pvlib TMY2 12839.tm2"),
}
HOURLY_STATIONS = tuple(k for k, s in STATIONS.items() if s.resolution == "hourly")


def _package_file(package: str, relative: str) -> str:
    return str(importlib.resources.files(package).joinpath(relative))


def _seattle_daily() -> pd.DataFrame:
    frame = pd.read_csv(_package_file("vega_datasets", "_data/seattle-weather.csv"))
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("date"), format="%Y/%m/%d"), name="date")
    return frame[["precipitation", "temp_max", "temp_min", "wind", "weather"]]


def _hour_ending_index(month: pd.Series, day: pd.Series, hour: pd.Series, utc_offset: int) -> pd.DatetimeIndex:
    """Hour-ending local standard time (TMY hour 24 is midnight of the next day), as UTC instants."""
    base = pd.to_datetime(pd.DataFrame({"year": TMY_YEAR, "month": month.astype(int), "day": day.astype(int)}))
    local = base + pd.to_timedelta(hour.astype(int), unit="h")
    return pd.DatetimeIndex(local - pd.Timedelta(hours=utc_offset), name="timestamp").tz_localize("UTC")


def _tmy3(filename: str, station: Station) -> pd.DataFrame:
    from pvlib import iotools

    raw, _ = iotools.read_tmy3(_package_file("pvlib", f"data/{filename}"), map_variables=False)
    dates = raw["Date (MM/DD/YYYY)"].str.split("/", expand=True)
    hours = raw["Time (HH:MM)"].str.split(":", expand=True)[0]
    index = _hour_ending_index(dates[0], dates[1], hours, station.utc_offset_hours)
    columns = {"Dry-bulb (C)": "temp_air", "Dew-point (C)": "temp_dew", "RHum (%)": "relative_humidity",
               "Pressure (mbar)": "pressure", "Wspd (m/s)": "wind_speed", "Wdir (degrees)": "wind_direction",
               "GHI (W/m^2)": "ghi", "DNI (W/m^2)": "dni", "DHI (W/m^2)": "dhi", "ETR (W/m^2)": "etr"}
    frame = raw[list(columns)].rename(columns=columns).astype(float)
    frame.index = index
    return frame


def _tmy2(filename: str, station: Station) -> pd.DataFrame:
    from pvlib import iotools

    raw, _ = iotools.read_tmy2(_package_file("pvlib", f"data/{filename}"))
    index = _hour_ending_index(raw["month"], raw["day"], raw["hour"], station.utc_offset_hours)
    # TMY2 stores temperatures and wind speed in tenths.
    frame = pd.DataFrame({
        "temp_air": raw["DryBulb"].to_numpy(float) / 10, "temp_dew": raw["DewPoint"].to_numpy(float) / 10,
        "relative_humidity": raw["RHum"].to_numpy(float), "pressure": raw["Pressure"].to_numpy(float),
        "wind_speed": raw["Wspd"].to_numpy(float) / 10, "wind_direction": raw["Wdir"].to_numpy(float),
        "ghi": raw["GHI"].to_numpy(float), "dni": raw["DNI"].to_numpy(float), "dhi": raw["DHI"].to_numpy(float),
        "etr": raw["ETR"].to_numpy(float),
    }, index=index)
    # The raw hour may be 1-24 (hour ending) or shifted by the reader: normalise to hour-ending.
    if (raw["hour"].astype(int) == 0).any():
        frame.index = frame.index + pd.Timedelta(hours=1)
    return frame


@cache
def load_series(key: str) -> pd.DataFrame:
    """The full record of a station: daily rows indexed by date, hourly rows by UTC hour-ending instant."""
    station = STATIONS[key]
    if key == "seattle":
        frame = _seattle_daily()
    elif key == "miami":
        frame = _tmy2("12839.tm2", station)
    else:
        frame = _tmy3("723170TYA.CSV" if key == "greensboro" else "703165TY.csv", station)
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise ValueError(f"{key}: the record's timestamps are not strictly increasing")
    step = pd.Timedelta(days=1) if station.resolution == "daily" else pd.Timedelta(hours=1)
    if not (np.diff(frame.index.to_numpy()) == step.to_timedelta64()).all():
        raise ValueError(f"{key}: the record has gaps")
    return frame


def source_lines(key: str, first_row: int, count: int) -> str:
    """The raw text of rows first_row.. of a station's record as its package file stores them (tests
    search for these runs of future values inside the jail)."""
    if key == "seattle":
        path, header = _package_file("vega_datasets", "_data/seattle-weather.csv"), 1
    elif key == "miami":
        path, header = _package_file("pvlib", "data/12839.tm2"), 1
    else:
        path, header = _package_file("pvlib", "data/" + ("723170TYA.CSV" if key == "greensboro" else "703165TY.csv")), 2
    with open(path, encoding="ascii", errors="replace", newline="") as handle:
        lines = handle.read().splitlines(keepends=True)
    return "".join(lines[header + first_row:header + first_row + count])
