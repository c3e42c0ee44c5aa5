"""Hidden means hidden (a canary search from inside the jail), and episodes leave nothing behind."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path

import gymnasium as gym
import pytest

from ale_gym import actions as A
from ale_gym.runtime import bwrap
from ale_gym.runtime.bwrap import bwrap_status
from ale_gym.tasks.registry import register_folder

pytestmark = pytest.mark.skipif(not bwrap_status()[0], reason=f"bubblewrap cannot run here: {bwrap_status()[1]}")

CANARY = "ALE-CANARY-" + secrets.token_hex(16)  # made now, so it can only be where this test puts it
PROBE_ID = "ALE/Canary-Probe-v0"

CARD = f"""\
# {CANARY}
id = "{PROBE_ID}"
title = "A task whose references carry a canary"
cluster = "11"
subfield = "11.2"
soc = "25-4022 Librarians and Media Collections Specialists"
tiers = ["near-term"]
tools = ["bash"]
deliverables = ["answer.txt"]
max_steps = 50
time_limit_s = 600
gui = false

[[milestones]]
id = "answer"
description = "answer.txt matches the reference"
weight = 1.0
reads = ["answer.txt"]
"""

TASK = f'''\
"""Canary probe: every reference of this task, and this checker code, carries {CANARY}."""

from ale_gym import actions as A
from ale_gym.tasks import CheckContext, GenContext, Instance, Task, Verdict


class CanaryProbe(Task):
    """Copy nothing; the answer is hidden. ({CANARY})"""

    def generate(self, ctx: GenContext, rng) -> Instance:
        (ctx.workspace / "input.txt").write_text("find the answer\\n")
        (ctx.hidden / "reference.txt").write_text("{CANARY} episode reference\\n")
        return Instance(instruction="Write answer.txt.", state={{"canary": "{CANARY}"}})

    def check_answer(self, ctx: CheckContext) -> Verdict:
        expected = (ctx.hidden / "reference.txt").read_text()
        return Verdict(ctx.exists("answer.txt") and ctx.read_text("answer.txt") == expected)

    def oracle(self, instance, tier):
        return [A.submit()]
'''


@pytest.fixture(scope="module")
def canary_task(tmp_path_factory):
    root = tmp_path_factory.mktemp("canary_pack")
    folder = root / "envs" / "canary_probe"
    folder.mkdir(parents=True)
    (folder / "task.toml").write_text(CARD)
    (folder / "task.py").write_text(TASK)
    (folder / "README.md").write_text(f"Canary probe {CANARY}\n")
    data = root / "task_data" / "canary_probe"
    (data / "hidden").mkdir(parents=True)
    (data / "hidden" / "static_reference.txt").write_text(f"{CANARY} static reference\n")
    register_folder(folder, root / "task_data")
    return folder, data


def test_no_canary_is_readable_from_inside_the_jail(canary_task, tmp_path):
    """Searches every regular file readable inside (all of / but /proc, /sys, /dev) for the canary.

    The canary is random and made by this test, so only files written since the test began can hold
    it: the search reads every file whose inode changed (ctime, which no one can set back) since then,
    and a copy in the agent's own workspace proves the search finds what is there.
    """
    folder, data = canary_task
    started = int(time.time()) - 1
    host_file = tmp_path / "host-note.txt"
    host_file.write_text(f"{CANARY} in the host's /tmp\n")
    with gym.make(PROBE_ID, sandbox="bwrap") as env, gym.make(PROBE_ID, sandbox="bwrap") as other:
        env.reset(seed=0)
        other.reset(seed=1)
        other_workspace = other.unwrapped.workspace
        (other_workspace / "notes.txt").write_text(f"{CANARY} in another episode's workspace\n")
        other.step(A.shell(f"echo {CANARY} > /tmp/theirs.txt; echo {CANARY} > ~/theirs.txt"))
        hidden = env.unwrapped._dirs.hidden
        assert CANARY in (hidden / "reference.txt").read_text()
        (env.unwrapped.workspace / "mine.txt").write_text(f"{CANARY} positive control\n")
        roots = "$(ls -d /* | grep -v -E '^/(proc|sys|dev)$')"
        search = (f"find {roots} -newerct @{started} -type f -print0 2>/dev/null > /tmp/changed; "
                  f"echo scanned $(tr -cd '\\0' < /tmp/changed | wc -c); "
                  f"xargs -0 -r grep -l -F -s -e {CANARY[:12]}''{CANARY[12:]} < /tmp/changed; true")
        obs, *_ = env.step(A.shell(search, timeout=600))
        lines = obs["terminal"].split("\n")
        assert lines[0].startswith("scanned ") and int(lines[0].split()[1]) >= 1
        assert lines[1:] == ["/workspace/mine.txt"], obs["terminal"]
        known = [hidden / "reference.txt", data / "hidden" / "static_reference.txt", folder / "task.py",
                 folder / "task.toml", other_workspace / "notes.txt", host_file]
        reads = "; ".join(f"cat {str(p)!r} 2>/dev/null && echo READ" for p in known)
        obs, *_ = env.step(A.shell(reads + "; echo end"))
        assert obs["terminal"] == "end"
        code = ("found = []\n"
                f"for path in {[str(p) for p in known]!r}:\n"
                "    try:\n"
                "        open(path).read(); found.append(path)\n"
                "    except OSError:\n"
                "        pass\n"
                "print(found)")
        obs, *_ = env.step(A.python(code))
        assert obs["terminal"] == "[]"


def _poll(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _describe(pids: list[int]) -> str:
    lines = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            state = stat[stat.index("("):].split(") ")[0] + ") " + stat.split(") ")[1].split()[0]
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120].decode(errors="replace")
            lines.append(f"{pid} {state} {command}")
        except OSError:
            lines.append(f"{pid} gone")
    return "\n".join(lines)


def _descendants() -> list[int]:
    found, frontier = [], [os.getpid()]
    while frontier:
        children = []
        for pid in frontier:
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as handle:
                        children += [int(c) for c in handle.read().split()]
            except OSError:
                continue
        found += children
        frontier = children
    return found


def _jail_uid_processes() -> list[int]:
    if os.geteuid() != 0:
        return []
    base = bwrap._uid_base()
    found = []
    for uid in range(base, base + 16):  # the slots this test can have used
        found += bwrap._processes_of(uid)
    return found


@pytest.mark.slow
@pytest.mark.gui
def test_a_hundred_reset_close_cycles_leak_nothing(monkeypatch):
    private_tmp = Path(tempfile.mkdtemp(prefix="ale-leak-test-"))
    private_tmp.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))  # everything this process makes, it makes here
    monkeypatch.delenv("ALE_GYM_TMPDIR", raising=False)
    displays: list[str] = []

    def cycle(seed: int) -> None:
        gui = seed % 4 == 0  # every fourth episode with a desktop, for the display locks
        with gym.make("ALE/Word-Stats-v0", sandbox="bwrap", gui=gui) as env:
            env.reset(seed=seed)
            if gui:
                displays.append(env.unwrapped._desktop.display)
            env.step(A.shell("sleep 300 & echo started"))
            env.step(A.python("import subprocess\nsubprocess.Popen(['sleep', '300'])"))

    try:
        cycle(0)  # warm up lazily opened, process-wide resources
        fds, threads = len(os.listdir("/proc/self/fd")), threading.active_count()
        # Helpers this test process already had (a multiprocessing forkserver from earlier tests) are not episodes'.
        before = set(_descendants())
        new_processes = lambda: [p for p in _descendants() if p not in before]  # noqa: E731
        for seed in range(1, 101):
            cycle(seed)
        assert os.listdir(private_tmp) == []
        assert len(os.listdir("/proc/self/fd")) == fds
        assert threading.active_count() == threads
        assert _poll(lambda: not new_processes(), 10), _describe(new_processes())
        assert _poll(lambda: not _jail_uid_processes(), 10), _describe(_jail_uid_processes())
        for display in set(displays):
            number = display.lstrip(":").split(".")[0]
            assert not Path(f"/tmp/.X{number}-lock").exists() or _lock_owner_alive(number)
            assert not Path(f"/tmp/.X11-unix/X{number}").exists() or _lock_owner_alive(number)
    finally:
        shutil.rmtree(private_tmp, ignore_errors=True)


def _lock_owner_alive(number: str) -> bool:
    """A display lock that exists again belongs to someone else's live server (displays are reused)."""
    try:
        pid = int(Path(f"/tmp/.X{number}-lock").read_text().strip())
    except (OSError, ValueError):
        return False
    return pid not in _descendants() and os.path.exists(f"/proc/{pid}") and pid != os.getpid()
