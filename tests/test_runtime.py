"""The episode's bash and Python, through the env's actions: persistence, timeouts, stdin, crashes, floods."""

from __future__ import annotations

import resource

import numpy as np

import pytest

from ale_gym import actions as A


@pytest.fixture
def env(word_env):
    word_env.reset(seed=0)
    return word_env


def run(env, action):
    obs, reward, terminated, truncated, info = env.step(action)
    return obs["terminal"], info


def test_shell_state_persists(env):
    run(env, A.shell("mkdir -p sub && cd sub && export GREETING=hello && f() { echo \"fn:$1\"; }"))
    text, info = run(env, A.shell("pwd; echo $GREETING; f 42"))
    assert text.splitlines()[1:] == ["hello", "fn:42"]
    assert text.splitlines()[0].endswith("/sub")
    assert info["exit_code"] == 0


def test_exit_code_and_unicode_and_ansi(env):
    text, info = run(env, A.shell("printf '\\033[1;31mrouge\\033[0m\\tété ✓\\r\\n'; exit_status_is() { return 3; }; exit_status_is"))
    assert text.startswith("rouge\tété ✓")
    assert "\x1b" not in text and "\r" not in text
    assert info["exit_code"] == 3
    assert "[exit status 3]" in text


def test_commands_waiting_on_stdin_do_not_hang(env):
    for command in ("cat", "read x; echo got:$x", "python3"):
        text, info = run(env, A.shell(command, timeout=20))
        assert info["exit_code"] == 0, (command, text)


def test_timeout_interrupts_and_the_shell_stays_usable(env):
    run(env, A.shell("KEEP=me"))
    text, info = run(env, A.shell("echo started; sleep 1000", timeout=1))
    assert "started" in text and "timed out" in text
    text, _ = run(env, A.shell("echo $KEEP"))
    assert text.strip() == "me"


def test_the_agent_ending_the_shell_gets_a_fresh_one(env):
    text, _ = run(env, A.shell("exit 4"))
    assert "fresh shell" in text
    text, info = run(env, A.shell("ls"))
    assert "text.txt" in text and info["exit_code"] == 0
    text, _ = run(env, A.shell("kill -9 $$"))
    assert "fresh shell" in text
    assert run(env, A.shell("echo ok"))[0].strip() == "ok"


def test_flood_of_output_is_cut_without_memory_blow_up(env):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    text, info = run(env, A.shell("head -c 50000000 /dev/zero | tr '\\0' 'y'; echo; echo END", timeout=120))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert info["exit_code"] == 0
    assert text.startswith("yyyy") and text.rstrip().endswith("END")
    assert "cut" in text and len(text) <= env.unwrapped.terminal_chars
    assert grown_kib < 100_000  # 50 MB of output must not be held in memory


def test_python_state_persists_and_shows_values(env):
    run(env, A.python("import collections\nwords = open('text.txt').read().split()"))
    text, info = run(env, A.python("len(words)"))
    assert text.strip() == "200" and info["exit_code"] == 0


def test_python_errors_come_back_as_tracebacks(env):
    text, info = run(env, A.python("def f():\n    return 1 / 0\nf()"))
    assert "ZeroDivisionError" in text and "line 2, in f" in text
    assert info["exit_code"] == 1
    assert "repl_server" not in text


def test_python_stdin_subprocess_output_and_unicode(env):
    text, _ = run(env, A.python("import os, sys\nprint('café ✓')\nos.system('echo from-child')\nprint(sys.stdin.read() == '')"))
    assert text.splitlines()[:2] == ["café ✓", "from-child"]
    assert "True" in text


def test_python_timeout_keeps_state(env):
    run(env, A.python("kept = 7"))
    text, info = run(env, A.python("import time\ntime.sleep(1000)", timeout=1))
    assert "time limit" in text and info["exit_code"] is None
    assert run(env, A.python("kept"))[0].strip() == "7"


@pytest.mark.parametrize("crash", ["import os; os._exit(1)", "import ctypes; ctypes.string_at(0)"])
def test_python_crash_restarts_with_a_notice(env, crash):
    run(env, A.python("lost = 1"))
    text, info = run(env, A.python(crash))
    assert "crashed" in text and "state is lost" in text
    text, _ = run(env, A.python("'lost' in globals()"))
    assert text.strip() == "False"


def test_terminal_budget_keeps_head_and_tail(sandbox):
    import gymnasium as gym

    env = gym.make("ALE/Word-Stats-v0", sandbox=sandbox, terminal_chars=500)
    env.reset(seed=0)
    obs, *_ = env.step(A.python("for i in range(1000): print(f'line {i}')"))
    text = obs["terminal"]
    assert text.startswith("line 0\n") and text.rstrip().endswith("line 999")
    assert "characters cut" in text and len(text) <= 500
    env.close()


def test_terminal_frame_scrolls_like_a_terminal():
    from ale_gym.runtime.terminal_frame import TerminalFrame

    frame = TerminalFrame(320, 120)
    blank = frame.render().copy()
    for count in (1, frame.capacity - 1, frame.capacity, 3 * frame.capacity, 2):
        frame.append("\n".join(f"line {i}" for i in range(count)))
        assert frame.rows_used <= frame.capacity
    assert not np.array_equal(frame.render(), blank)
    # The last line drawn is the bottom row in use; rows below it stay blank.
    bottom = frame.MARGIN + frame.rows_used * frame.line_height
    assert np.array_equal(frame.render()[bottom:], blank[bottom:])
    frame.clear()
    assert np.array_equal(frame.render(), blank)
