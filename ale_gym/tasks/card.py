"""A task card: the `task.toml` of a task folder, parsed and validated.

Validation happens when a task is registered, so a maintainer learns about an unknown subfield, weights
that do not sum to one or a milestone cycle at import time, with the file and field named.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ale_gym.tasks.taxonomy import load_taxonomy

ID_PATTERN = re.compile(r"^ALE/(?P<name>[A-Za-z0-9][A-Za-z0-9-]*?)-v(?P<version>\d+)$")
CHECK_WHEN = ("step", "submit")


class CardError(ValueError):
    """A task card is malformed; the message names the file and the field."""

    def __init__(self, path: Path | str, field_name: str, problem: str) -> None:
        super().__init__(f"{path}: field '{field_name}': {problem}")
        self.path = str(path)
        self.field = field_name


@dataclass(frozen=True)
class MilestoneSpec:
    """One row of the milestones table; the checker itself lives in task.py."""

    id: str
    description: str
    weights: dict[str, float]  # tier -> weight; a milestone absent from a tier has no entry
    requires: tuple[str, ...] = ()
    when: str = "step"  # "step": re-checked whenever its files change; "submit": only at the end
    reads: tuple[str, ...] = ()  # glob patterns relative to the workspace; empty means every file


@dataclass(frozen=True)
class TaskCard:
    id: str
    name: str
    version: int
    title: str
    cluster: str
    subfield: str
    soc: str
    tiers: tuple[str, ...]
    tools: tuple[str, ...]
    deliverables: tuple[str, ...]
    milestones: tuple[MilestoneSpec, ...]
    max_steps: int
    time_limit_s: float
    gui: bool
    resolution: tuple[int, int]
    path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.path.parent.name

    def milestones_for(self, tier: str) -> tuple[MilestoneSpec, ...]:
        """The milestones scored in a tier, in card order."""
        return tuple(m for m in self.milestones if tier in m.weights)

    @property
    def default_tier(self) -> str:
        return self.tiers[0]


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], path: Path) -> Any:
    if key not in data:
        raise CardError(path, key, "is missing")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CardError(path, key, f"must be {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


def _parse_milestone(raw: Any, index: int, tiers: tuple[str, ...], path: Path) -> MilestoneSpec:
    where = f"milestones[{index}]"
    if not isinstance(raw, dict):
        raise CardError(path, where, "must be a table")
    mid = raw.get("id")
    if not isinstance(mid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", mid):
        raise CardError(path, f"{where}.id", "must be a snake_case identifier")
    description = raw.get("description", "")
    if not isinstance(description, str) or not description:
        raise CardError(path, f"{where}.description", "must be a non-empty string")
    weight = raw.get("weight")
    weights: dict[str, float] = {}
    if isinstance(weight, (int, float)) and not isinstance(weight, bool):
        only = raw.get("tiers", list(tiers))
        if not isinstance(only, list) or any(t not in tiers for t in only):
            raise CardError(path, f"{where}.tiers", f"must list tiers among {list(tiers)}")
        weights = {t: float(weight) for t in only}
    elif isinstance(weight, dict):
        for tier, value in weight.items():
            if tier not in tiers:
                raise CardError(path, f"{where}.weight.{tier}", f"unknown tier; the card has {list(tiers)}")
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise CardError(path, f"{where}.weight.{tier}", "must be a number")
            weights[tier] = float(value)
    else:
        raise CardError(path, f"{where}.weight", "must be a number or a table of tier = number")
    for tier, value in weights.items():
        if not 0 < value <= 1:
            raise CardError(path, f"{where}.weight", f"must be in (0, 1], got {value} for {tier}")
    requires = raw.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise CardError(path, f"{where}.requires", "must be a list of milestone ids")
    when = raw.get("when", "step")
    if when not in CHECK_WHEN:
        raise CardError(path, f"{where}.when", f"must be one of {CHECK_WHEN}")
    reads = raw.get("reads", [])
    if not isinstance(reads, list) or not all(isinstance(r, str) for r in reads):
        raise CardError(path, f"{where}.reads", "must be a list of glob patterns")
    return MilestoneSpec(mid, description, weights, tuple(requires), when, tuple(reads))


def _check_graph(milestones: tuple[MilestoneSpec, ...], tiers: tuple[str, ...], path: Path) -> None:
    ids = [m.id for m in milestones]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise CardError(path, "milestones", f"duplicate ids {sorted(duplicates)}")
    for tier in tiers:
        active = {m.id: m for m in milestones if tier in m.weights}
        if not active:
            raise CardError(path, "milestones", f"tier '{tier}' has no milestones")
        total = sum(m.weights[tier] for m in active.values())
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise CardError(path, "milestones.weight", f"weights of tier '{tier}' sum to {total:.6g}, not 1")
        for m in active.values():
            for r in m.requires:
                if r not in active:
                    raise CardError(path, f"milestones[{m.id}].requires", f"'{r}' is not a milestone of tier '{tier}'")
        state: dict[str, int] = {}

        def visit(mid: str, trail: list[str]) -> None:
            if state.get(mid) == 2:
                return
            if state.get(mid) == 1:
                cycle = " -> ".join(trail[trail.index(mid):] + [mid])
                raise CardError(path, "milestones.requires", f"cycle {cycle}")
            state[mid] = 1
            for r in active[mid].requires:
                visit(r, trail + [mid])
            state[mid] = 2

        for mid in active:
            visit(mid, [])


def parse_card(path: Path) -> TaskCard:
    """Parse and validate a task.toml; raise CardError naming the field on any problem."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CardError(path, "<file>", f"not valid TOML: {exc}") from None
    taxonomy = load_taxonomy()
    task_id = _require(data, "id", str, path)
    match = ID_PATTERN.match(task_id)
    if not match:
        raise CardError(path, "id", f"'{task_id}' is not of the form ALE/<Name>-v<k>")
    subfield = _require(data, "subfield", str, path)
    if subfield not in taxonomy.subfields:
        raise CardError(path, "subfield", f"unknown subfield '{subfield}' (not in the taxonomy)")
    cluster = str(data.get("cluster", taxonomy.subfields[subfield].cluster_id))
    if cluster != taxonomy.subfields[subfield].cluster_id:
        raise CardError(path, "cluster", f"subfield {subfield} belongs to cluster {taxonomy.subfields[subfield].cluster_id}, not {cluster}")
    tiers = tuple(_require(data, "tiers", list, path))
    if not tiers or any(t not in taxonomy.tiers for t in tiers):
        raise CardError(path, "tiers", f"must be a non-empty list among {list(taxonomy.tiers)}")
    raw_milestones = _require(data, "milestones", list, path)
    milestones = tuple(_parse_milestone(m, i, tiers, path) for i, m in enumerate(raw_milestones))
    _check_graph(milestones, tiers, path)
    resolution = data.get("resolution", [1280, 800])
    if not (isinstance(resolution, list) and len(resolution) == 2 and all(isinstance(v, int) and v >= 64 for v in resolution)):
        raise CardError(path, "resolution", "must be [width, height] in pixels")
    max_steps = _require(data, "max_steps", int, path)
    if max_steps < 1:
        raise CardError(path, "max_steps", "must be at least 1")
    time_limit = data.get("time_limit_s", 3600)
    if not isinstance(time_limit, (int, float)) or time_limit <= 0:
        raise CardError(path, "time_limit_s", "must be a positive number of seconds")
    known = {"id", "title", "cluster", "subfield", "soc", "tiers", "tools", "deliverables", "milestones",
             "max_steps", "time_limit_s", "gui", "resolution"}
    return TaskCard(
        id=task_id,
        name=match["name"],
        version=int(match["version"]),
        title=_require(data, "title", str, path),
        cluster=cluster,
        subfield=subfield,
        soc=_require(data, "soc", str, path),
        tiers=tiers,
        tools=tuple(data.get("tools", [])),
        deliverables=tuple(_require(data, "deliverables", list, path)),
        milestones=milestones,
        max_steps=max_steps,
        time_limit_s=float(time_limit),
        gui=bool(data.get("gui", False)),
        resolution=(resolution[0], resolution[1]),
        path=path,
        extra={k: v for k, v in data.items() if k not in known},
    )
