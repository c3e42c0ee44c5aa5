"""An episode's folders on the host: the agent's workspace, and beside it what the agent never sees."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

TEMP_ROOT_VARIABLE = "ALE_GYM_TMPDIR"


@dataclass
class EpisodeDirs:
    root: Path
    workspace: Path  # mounted into the jail, the agent's cwd
    hidden: Path  # references written by the generator; never mounted
    scratch: Path  # checkers' throwaway copies of the workspace

    @classmethod
    def create(cls) -> "EpisodeDirs":
        base = os.environ.get(TEMP_ROOT_VARIABLE) or None
        root = Path(tempfile.mkdtemp(prefix="ale-episode-", dir=base))
        dirs = cls(root, root / "workspace", root / "hidden", root / "scratch")
        for folder in (dirs.workspace, dirs.hidden, dirs.scratch):
            folder.mkdir()
        dirs.hidden.chmod(0o700)
        return dirs

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def list_files(workspace: Path, budget: int) -> str:
    """One line per file, 'relative/path<TAB>size', sorted, cut at `budget` characters with a marker."""
    lines: list[str] = []
    used = 0
    total = 0
    for folder, subfolders, files in os.walk(workspace):
        subfolders.sort()
        for name in sorted(files + [d for d in subfolders if os.path.islink(os.path.join(folder, d))]):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, workspace)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            total += 1
            suffix = " -> link" if os.path.islink(path) else ""
            line = f"{relative}\t{info.st_size}{suffix}"
            if used + len(line) + 1 <= budget - 48:
                lines.append(line)
                used += len(line) + 1
    shown = len(lines)
    if shown < total:
        lines.append(f"[... {total - shown} more files not listed ...]")
    return "\n".join(lines)
