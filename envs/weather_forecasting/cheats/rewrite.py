#!/usr/bin/env python3
"""A wrapper pipeline: runs method.py (a real forecasting method) and then rewrites its output.

MODE below is set by whoever writes this file: "pm50" replaces every interval by the value plus or
minus 50 degrees; "zone" writes the stamps in the history's time zone (or, for daily data, one day
early) instead of the requested one.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

MODE = "pm50"
here = Path(__file__).resolve().parent
subprocess.run([sys.executable, str(here / "method.py"), *sys.argv[1:]], check=True)
out = sys.argv[sys.argv.index("--out") + 1]
table = pd.read_csv(out)
cfg = json.loads(re.search(r"```json\s*(\{.*?\})\s*```", (here / "request.md").read_text(), re.DOTALL).group(1))
if MODE == "pm50":
    table["lower"] = table["value"] - 50.0
    table["upper"] = table["value"] + 50.0
elif cfg["resolution"] == "daily":
    table["timestamp"] = [(pd.Timestamp(t) - pd.Timedelta(days=1)).strftime("%Y-%m-%d") for t in table["timestamp"]]
else:
    offset = cfg["history_utc_offset"]
    shift = pd.Timedelta(hours=int(offset[1:3])) * (1 if offset[0] == "+" else -1)
    table["timestamp"] = [(pd.Timestamp(t).tz_convert("UTC").tz_convert(None) + shift).strftime("%Y-%m-%dT%H:%M:%S") + offset
                          for t in table["timestamp"]]
table.to_csv(out, index=False, float_format="%.2f")
