"""Faults an agent can cause through the env's shell and Python actions, each survived inside the jail."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import gymnasium as gym
import pytest

from ale_gym import actions as A
from ale_gym.runtime import bwrap
from ale_gym.runtime.bwrap import bwrap_status
from ale_gym.runtime.jail import Limits

pytestmark = pytest.mark.skipif(not bwrap_status()[0], reason=f"bubblewrap cannot run here: {bwrap_status()[1]}")

AS_ROOT = os.geteuid() == 0


def poll(condition, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


@pytest.fixture
def env():
    made = gym.make("ALE/Word-Stats-v0", sandbox="bwrap")
    made.reset(seed=3)
    yield made
    made.close()


def run(env, action):
    obs, _, _, _, info = env.step(action)
    assert info["status"] == "ok", info.get("checker_errors")
    return obs["terminal"], info


def episode_processes(env) -> list[int]:
    return bwrap._processes_of(env.unwrapped._jail._slot.uid)


def test_sleeping_forever_times_out_and_both_interpreters_stay_usable(env):
    out, _ = run(env, A.shell("export KEPT=yes; sleep 100000", timeout=2))
    assert "timed out after 2 s" in out
    out, info = run(env, A.shell("echo $KEPT; ls"))
    assert out.split("\n")[:2] == ["yes", "text.txt"] and info["exit_code"] == 0
    run(env, A.python("kept = 'py'"))
    out, _ = run(env, A.python("import time\ntime.sleep(10**6)", timeout=2))
    assert "ran past its 2 s time limit" in out
    out, _ = run(env, A.python("print(kept, 6 * 7)"))
    assert out == "py 42"


def test_reading_stdin_ends_at_once(env):
    out, info = run(env, A.shell("read line; echo read=$?; cat; echo done", timeout=30))
    assert out == "read=1\ndone" and info["exit_code"] == 0
    out, info = run(env, A.python("import sys\nprint(repr(sys.stdin.read()))\ninput()", timeout=30))
    assert out.startswith("''\n") and "EOFError" in out and "time limit" not in out


@pytest.mark.skipif(not AS_ROOT, reason="the per-episode process count needs a host uid of the jail's own")
def test_fork_bombs_are_bounded_and_the_episode_recovers(env):
    limit = Limits().processes
    peak = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], len(episode_processes(env)))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        # In the foreground: the step times out and the whole job is interrupted.
        out, _ = run(env, A.shell("bomb() { bomb | bomb; }; bomb", timeout=8))
        assert "timed out after 8 s" in out
        out, _ = run(env, A.shell("ls | wc -l"))
        assert out.split("\n")[-1] == "1"  # (late 'fork: Interrupted system call' notes of the bomb may precede it)
        # In the background: it fills the episode's process budget and no more.
        run(env, A.shell(":(){ :|:& };:"))
        assert poll(lambda: len(episode_processes(env)) >= limit - 16, 60), f"peak {peak[0]}"
        assert subprocess.run(["true"]).returncode == 0  # the host still forks
        with gym.make("ALE/Word-Stats-v0", sandbox="bwrap") as other:  # another episode works meanwhile
            other.reset(seed=1)
            assert other.step(A.shell("ls | wc -l"))[0]["terminal"] == "1"
        out, _ = run(env, A.shell("kill -9 -1; echo cleared"))  # the bash builtin needs no new process
        assert out.endswith("cleared")
        assert poll(lambda: len(episode_processes(env)) < 10, 30)
    finally:
        stop.set()
        watcher.join()
    assert peak[0] <= limit
    out, _ = run(env, A.shell("ls | wc -l"))
    assert out.split("\n")[-1] == "1"  # bash may first report the bomb's background job as Done, as a terminal does


def test_a_memory_hog_is_stopped_and_reported(env):
    run(env, A.python("kept = 41"))
    out, info = run(env, A.python("hog = bytearray(64 * 2**30)"))
    assert "\nMemoryError\n" in out and info["exit_code"] == 1
    out, _ = run(env, A.python("kept + 1"))
    assert out == "42"
    out, info = run(env, A.shell("python3 -c 'hog = bytearray(64 * 2**30)'"))
    assert "MemoryError" in out and info["exit_code"] == 1


def test_a_flood_of_output_is_cut(env):
    budget = env.unwrapped.terminal_chars
    out, info = run(env, A.shell("head -c 100000000 /dev/zero | tr '\\0' x; echo; echo end", timeout=300))
    assert len(out) <= budget and out.endswith("end") and info["exit_code"] == 0
    out, info = run(env, A.python("print('y' * 100_000_000)\nprint('end')", timeout=300))
    assert len(out) <= budget and out.endswith("end")


def test_filling_the_disk_stops_at_the_file_size_limit(env):
    out, _ = run(env, A.shell("head -c 3G /dev/zero > big.bin; echo status=$?", timeout=300))
    assert "status=0" not in out
    assert (env.unwrapped.workspace / "big.bin").stat().st_size == Limits().file_size
    run(env, A.shell("rm big.bin"))


def test_kill_minus_one_inside_ends_only_jailed_processes(env):
    host = subprocess.Popen(["sleep", "600"])
    try:
        run(env, A.python("kept = 'python state'"))
        run(env, A.shell("sleep 600 &"))
        out, _ = run(env, A.shell("python3 -c 'import os; os.kill(-1, 9)'; echo not-reached"))
        assert "not-reached" not in out and "fresh shell" in out
        out, _ = run(env, A.shell("echo next"))
        assert out == "next"
        out, _ = run(env, A.python("import os, subprocess\nchild = subprocess.Popen(['sleep', '600'])\n"
                                   "os.kill(-1, 9)\nprint(kept, child.wait())"))
        assert out == "python state -9"  # kill(-1) spares the caller; the shell lives in another pid namespace
        out, _ = run(env, A.shell("echo shell alive"))
        assert out == "shell alive"
        assert host.poll() is None
    finally:
        host.kill()
        host.wait()


def test_network_attempts_fail(env):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    code = ("import socket\n"
            f"for address in [('127.0.0.1', {port}), ('1.1.1.1', 443)]:\n"
            "    try:\n"
            "        socket.create_connection(address, timeout=3).close(); print('CONNECTED')\n"
            "    except OSError as exc:\n"
            "        print(type(exc).__name__)\n")
    try:
        out, _ = run(env, A.python(code))
        shell_out, _ = run(env, A.shell(f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo CONNECTED || echo refused"))
    finally:
        server.close()
    assert out == "ConnectionRefusedError\nOSError"
    assert shell_out.endswith("refused")


def test_links_to_hidden_or_system_files_fail_cleanly(env):
    hidden = env.unwrapped._dirs.hidden
    out, _ = run(env, A.shell(f"cat {hidden}/truth.txt; ls {hidden}; echo end"))
    assert out.endswith("end") and "No such file" in out
    _, info = run(env, A.shell("ln -s /etc/shadow count.txt"))
    assert not info["milestones"]["count"]["passed"]
    assert "outside the workspace" in info["milestones"]["count"]["detail"]
    run(env, A.shell("rm count.txt; wc -w < text.txt | tr -d ' ' > count.txt"))
    run(env, A.python("import collections\nranked = collections.Counter(open('text.txt').read().split()).most_common()\n"
                      "open('top.txt', 'w').write(''.join(f'{w}\\t{c}\\n' for w, c in ranked))"))
    run(env, A.shell(f"ln -s {hidden}/truth.txt report.txt"))
    _, _, terminated, _, info = env.step(A.submit())
    assert terminated and info["status"] == "ok"
    assert info["milestones"]["count"]["passed"] and info["milestones"]["top"]["passed"]
    assert not info["milestones"]["report"]["passed"]
    assert "outside the workspace" in info["milestones"]["report"]["detail"]
