"""Milestone evaluation: cached checkers, the prerequisite DAG, and the potential that makes rewards.

Phi = sum of the weights of milestones that pass and whose prerequisites all pass (transitively).
Step reward is Phi(after) - Phi(before), so the undiscounted return equals the final score and a
milestone that breaks again costs the reward it earned.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ale_gym.tasks.base import CheckContext, Checker, DeliverableError, Verdict
from ale_gym.tasks.card import MilestoneSpec

CONTENT_HASH_LIMIT = 8 * 1024 * 1024


@dataclass
class MilestoneState:
    spec: MilestoneSpec
    weight: float
    verdict: Verdict = field(default_factory=lambda: Verdict(False, "not checked yet"))
    error: str | None = None  # a traceback when the checker itself crashed
    fingerprint: str | None = None
    checked: bool = False
    seconds: float = 0.0


def workspace_fingerprint(workspace: Path, patterns: tuple[str, ...]) -> str:
    """A hash of what the patterns select: names, sizes, contents (modification times for big files)."""
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(workspace.rglob("*")):
        relative = path.relative_to(workspace).as_posix()
        if patterns and not any(fnmatch.fnmatchcase(relative, p) or relative.startswith(p.rstrip("/*") + "/") for p in patterns):
            continue
        try:
            info = path.lstat()
        except OSError:
            continue
        digest.update(relative.encode("utf-8", "surrogateescape"))
        digest.update(f"{info.st_mode}:{info.st_size}".encode())
        if path.is_file() and not path.is_symlink():
            if info.st_size <= CONTENT_HASH_LIMIT:
                try:
                    digest.update(hashlib.blake2b(path.read_bytes(), digest_size=16).digest())
                except OSError:
                    pass
            else:
                digest.update(str(info.st_mtime_ns).encode())
        if path.is_symlink():
            try:
                digest.update(str(path.readlink()).encode("utf-8", "surrogateescape"))
            except OSError:
                pass
    return digest.hexdigest()


class MilestoneBook:
    """The milestones of one episode's tier and their latest verdicts."""

    def __init__(self, specs: tuple[MilestoneSpec, ...], tier: str, checkers: dict[str, Checker]) -> None:
        self.tier = tier
        self.states = {s.id: MilestoneState(s, s.weights[tier]) for s in specs}
        self.checkers = checkers

    def evaluate(self, ctx: CheckContext, *, final: bool) -> float:
        """Re-run the checkers whose files changed (and, when final, the submit-only ones); return Phi."""
        for state in self.states.values():
            if state.spec.when == "submit" and not final:
                continue
            fingerprint = workspace_fingerprint(ctx.workspace, state.spec.reads)
            if state.checked and fingerprint == state.fingerprint:
                continue
            self._run_checker(state, ctx)
            state.fingerprint = fingerprint
            state.checked = True
        return self.potential()

    def _run_checker(self, state: MilestoneState, ctx: CheckContext) -> None:
        start = time.perf_counter()
        try:
            result = self.checkers[state.spec.id](ctx)
            state.verdict = result if isinstance(result, Verdict) else Verdict(bool(result))
            state.error = None
        except DeliverableError as exc:
            state.verdict = Verdict(False, str(exc))
            state.error = None
        except Exception:  # noqa: BLE001 - a crashed checker is reported, never hidden
            state.verdict = Verdict(False, "checker error")
            state.error = traceback.format_exc()
        state.seconds = time.perf_counter() - start

    def effective(self, milestone_id: str) -> bool:
        """Passed, and every prerequisite effectively passed."""
        state = self.states[milestone_id]
        return state.verdict.passed and all(self.effective(r) for r in state.spec.requires)

    def potential(self) -> float:
        total = sum(s.weight for mid, s in self.states.items() if self.effective(mid))
        return min(1.0, round(total, 12))

    @property
    def full_pass(self) -> bool:
        return all(self.effective(mid) for mid in self.states)

    @property
    def errors(self) -> dict[str, str]:
        return {mid: s.error for mid, s in self.states.items() if s.error}

    def seconds(self) -> dict[str, float]:
        """How long each milestone's checker took the last time it ran."""
        return {mid: round(s.seconds, 6) for mid, s in self.states.items()}

    def report(self) -> dict[str, dict[str, Any]]:
        return {
            mid: {
                "passed": self.effective(mid),
                "checker_passed": s.verdict.passed,
                "weight": s.weight,
                "detail": s.verdict.detail if not s.error else s.error.strip().splitlines()[-1],
                "checked": s.checked,
                **({"metrics": copy.deepcopy(s.verdict.metrics)} if s.verdict.metrics else {}),
            }
            for mid, s in self.states.items()
        }
