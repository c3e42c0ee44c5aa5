"""The results of an evaluation run: one JSON line per episode, keyed by (task, tier, seed).

`episodes.jsonl` holds one object per finished episode with the fields `task_id`, `name`, `cluster`,
`subfield`, `tier`, `seed`, `agent`, `score`, `full_pass`, `milestones` (`{id: {passed, weight,
detail}}`), `steps`, `return`, `terminated`, `truncated`, `seconds` (wall time), `status` ("ok",
"checker_error", "agent_error" or "error", see `ale_gym.harness.episode`), optionally `error`,
`checker_errors` and `trajectory` (the folder under `trajectories/`).

Only the driver writes, and a key is written once: a retried or duplicated episode can never add a second
line. Episodes whose status is "error" (the harness or env broke) are dropped when the store is opened,
so rerunning the same command retries them and skips everything else. A torn last line (a killed run)
is dropped the same way. `run.json` remembers the agent and settings, so a rerun cannot mix agents.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ale_gym.harness.episode import FINISHED_STATUSES

EPISODES_FILE = "episodes.jsonl"
RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"

Key = tuple[str, str, int]


def record_key(record: dict[str, Any]) -> Key:
    return (str(record["task_id"]), str(record["tier"]), int(record["seed"]))


def _atomic_write(path: Path, text: str) -> None:
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def read_records(directory: Path) -> list[dict[str, Any]]:
    """Every well-formed line of a run's episodes file, last one per key winning, in file order."""
    path = Path(directory) / EPISODES_FILE
    found: dict[Key, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text("utf-8").splitlines():
            try:
                record = json.loads(line)
                key = record_key(record)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
            found[key] = record
    return list(found.values())


class ResultStore:
    """Append-only, idempotent storage of episode records in one run folder."""

    def __init__(self, directory: str | Path, settings: dict[str, Any] | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / EPISODES_FILE
        if settings is not None:
            self._check_settings(settings)
        raw_lines = self.path.read_text("utf-8").splitlines() if self.path.is_file() else []
        kept = [r for r in read_records(self.directory) if r.get("status") in FINISHED_STATUSES]
        self._records: dict[Key, dict[str, Any]] = {record_key(r): r for r in kept}
        if len(kept) != len(raw_lines):
            _atomic_write(self.path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))

    def _check_settings(self, settings: dict[str, Any]) -> None:
        run_file = self.directory / RUN_FILE
        if run_file.is_file():
            previous = json.loads(run_file.read_text("utf-8"))
            if previous.get("agent") != settings.get("agent"):
                raise ValueError(f"{self.directory} holds results of agent {previous.get('agent')!r}, "
                                 f"not {settings.get('agent')!r}; use another output folder")
        _atomic_write(run_file, json.dumps(settings, indent=2, sort_keys=True) + "\n")

    def __contains__(self, key: Key) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    def add(self, record: dict[str, Any]) -> bool:
        """Write a finished episode once; return False when its key is already stored."""
        key = record_key(record)
        if key in self._records:
            return False
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        self._records[key] = record
        return True

    def records(self) -> list[dict[str, Any]]:
        return list(self._records.values())

    def write_summary(self, summary: dict[str, Any]) -> Path:
        target = self.directory / SUMMARY_FILE
        _atomic_write(target, json.dumps(summary, indent=2, sort_keys=True) + "\n")
        return target
