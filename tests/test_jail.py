"""The bubblewrap jail on its own: what agent code sees, what it cannot do, and how it is stopped."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pexpect
import pytest

import ale_gym
from ale_gym.runtime import bwrap
from ale_gym.runtime.bwrap import BwrapJail, bwrap_status, make_jail, sensitive_paths
from ale_gym.runtime.jail import RUN_OUTPUT_LIMIT, Limits, NoJail

pytestmark = pytest.mark.skipif(not bwrap_status()[0], reason=f"bubblewrap cannot run here: {bwrap_status()[1]}")

AS_ROOT = os.geteuid() == 0


def poll(condition, timeout: float, interval: float = 0.02):
    """Call `condition` until it returns something truthy or the deadline passes; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def sh(jail, script: str, timeout: float = 60.0, **kwargs):
    return jail.run(["bash", "-c", script], cwd=jail.workspace, timeout=timeout, **kwargs)


def jail_processes(jail: BwrapJail) -> list[int]:
    return bwrap._processes_of(jail._slot.uid)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "workspace"
    folder.mkdir()
    (folder / "input.txt").write_text("some input\n")
    return folder


@pytest.fixture
def jail(workspace: Path):
    with BwrapJail(workspace) as made:
        yield made


def spawn(jail, argv, **kwargs) -> subprocess.Popen:
    host_argv, env = jail.command(argv)
    return subprocess.Popen(host_argv, env=env, cwd=jail.workspace, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kwargs)


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, 9)
    except ProcessLookupError:
        pass
    process.communicate()


# -- who the agent is, and what it sees ------------------------------------------------------------------

def test_non_root_without_capabilities_or_new_privileges(jail):
    result = sh(jail, "id -u; id -g; grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs)' /proc/self/status; "
                      "unshare --user true 2>/dev/null && echo NESTED-USERNS; echo end")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[:2] == ["1000", "1000"]
    status = dict(line.split(":\t") for line in lines[2:6])
    assert status == {"CapEff": "0000000000000000", "CapPrm": "0000000000000000",
                      "CapBnd": "0000000000000000", "NoNewPrivs": "1"}
    assert lines[6] == "end"  # no user namespaces inside (--disable-userns)


@pytest.mark.skipif(not AS_ROOT, reason="distinct host uids need a root host process")
def test_each_jail_runs_as_its_own_unprivileged_host_uid(tmp_path, jail):
    other_ws = tmp_path / "other"
    other_ws.mkdir()
    with BwrapJail(other_ws) as other:
        assert jail._slot.uid != other._slot.uid and 0 not in (jail._slot.uid, other._slot.uid)
        process = spawn(jail, ["sleep", "60"])
        try:
            assert poll(lambda: jail_processes(jail), 10)
            assert jail_processes(other) == []
        finally:
            stop(process)


def test_workspace_is_writable_and_the_system_is_read_only(jail, workspace):
    result = sh(jail, "pwd; cat input.txt; echo made > out.txt; mkdir -p sub/dir && echo x > sub/dir/f; "
                      "touch /usr/x 2>&1; touch /etc/x 2>&1; touch /x 2>&1; echo $HOME; touch $HOME/h && echo home-ok")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("/workspace\nsome input\n")
    assert out.count("Read-only file system") == 3
    assert "/home/agent\nhome-ok" in out
    assert (workspace / "out.txt").read_text() == "made\n"
    assert (workspace / "sub/dir/f").read_text() == "x\n"


def test_domain_libraries_import_but_ale_gym_does_not(jail):
    ok = jail.run(["python3", "-c", "import numpy, pandas, ezdxf, cocotb, sys; print(sys.prefix)"],
                  cwd=jail.workspace, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == sys.prefix
    blocked = jail.run(["python3", "-c", "import ale_gym"], cwd=jail.workspace, timeout=60)
    assert blocked.returncode != 0
    assert "ModuleNotFoundError: No module named 'ale_gym'" in blocked.stderr or "ImportError" in blocked.stderr


def test_the_installation_task_folders_and_host_files_are_invisible(tmp_path, jail):
    package = Path(ale_gym.__file__).resolve().parent
    host_tmp_secret = tmp_path / "host-secret.txt"
    host_tmp_secret.write_text("secret")
    from ale_gym.tasks.registry import all_entries

    probes = [package / "__init__.py", Path(bwrap.__file__).resolve(), host_tmp_secret, Path("/root/.bashrc"),
              Path("/etc/shadow")]
    for entry in all_entries():
        probes += [entry.folder / "task.py", entry.folder / "task.toml", entry.data_dir]
    for parent in package.parents:
        if (parent / "pyproject.toml").is_file():
            probes += [parent / "pyproject.toml", parent / "setup.cfg"]
    script = "; ".join(f"cat {str(p)!r} >/dev/null 2>&1 && echo VISIBLE {str(p)!r}" for p in probes)
    result = sh(jail, script + "; echo end")
    assert result.stdout.strip() == "end", result.stdout
    assert (package / "__init__.py").exists() and host_tmp_secret.exists()  # the probes are real on the host
    assert any(package == s or package in s.parents or s in package.parents for s in sensitive_paths())


def test_a_hidden_package_is_masked_and_cannot_be_imported(workspace):
    vega_datasets = pytest.importorskip("vega_datasets")  # a dataset package (the weather extra)

    folder = Path(vega_datasets.__file__).parent
    with BwrapJail(workspace, hide_paths=[folder]) as jail:
        listing = sh(jail, f"ls -A {str(folder)!r}; touch {str(folder)!r}/x 2>&1")
        assert listing.stdout.split("\n")[0] == "__init__.py"  # only the blocker that makes the import fail
        assert "Read-only file system" in listing.stdout
        imported = jail.run(["python3", "-c", "import vega_datasets"], cwd=workspace, timeout=60)
        assert imported.returncode != 0 and "not available inside the ale_gym jail" in imported.stderr
        others = jail.run(["python3", "-c", "import pandas"], cwd=workspace, timeout=60)
        assert others.returncode == 0, others.stderr


def test_episode_tmp_is_shared_by_its_processes_but_not_by_checker_runs_or_other_jails(tmp_path, jail):
    argv, env = jail.command(["bash", "-c", "echo shared > /tmp/note && cat /tmp/note"])
    assert subprocess.run(argv, env=env, capture_output=True, timeout=60).stdout == b"shared\n"
    argv, env = jail.command(["cat", "/tmp/note"])
    assert subprocess.run(argv, env=env, capture_output=True, timeout=60).stdout == b"shared\n"
    assert sh(jail, "cat /tmp/note").returncode != 0  # a checker's run starts from a fresh /tmp
    other_ws = tmp_path / "other"
    other_ws.mkdir()
    with BwrapJail(other_ws) as other:
        argv, env = other.command(["cat", "/tmp/note"])
        assert subprocess.run(argv, env=env, capture_output=True, timeout=60).returncode != 0


@pytest.mark.gui
def test_the_display_socket_and_only_it_is_reachable(workspace):
    from xvfbwrapper import Xvfb

    if shutil.which("xdpyinfo") is None:
        pytest.skip("xdpyinfo (x11-utils) is not installed")
    xvfb = Xvfb(width=320, height=240, environ={"PATH": os.environ.get("PATH", "/usr/bin")})
    xvfb.start()
    try:
        display = f":{xvfb.new_display}"
        with BwrapJail(workspace, display=display) as jail:
            result = sh(jail, "echo $DISPLAY; ls -A /tmp/.X11-unix; xdpyinfo | grep -c dimensions")
            assert result.returncode == 0, result.stderr
            assert result.stdout.split("\n")[:3] == [display, f"X{xvfb.new_display}", "1"]
    finally:
        xvfb.stop()


# -- what it cannot do ------------------------------------------------------------------------------------

def test_no_network_to_the_host_or_outside(jail):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    code = ("import socket\n"
            f"for address in [('127.0.0.1', {port}), ('1.1.1.1', 80), ('10.0.0.1', 80)]:\n"
            "    try:\n"
            "        socket.create_connection(address, timeout=3).close(); print('CONNECTED', address)\n"
            "    except OSError as exc:\n"
            "        print(type(exc).__name__, exc.errno)\n")
    try:
        result = jail.run(["python3", "-c", code], cwd=jail.workspace, timeout=60)
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    assert "CONNECTED" not in result.stdout
    assert result.stdout.split("\n")[0] == "ConnectionRefusedError 111"  # nothing listens on the jail's own loopback
    assert result.stdout.count("OSError 101") == 2  # ENETUNREACH: no route out at all


def test_resource_limits_are_applied(workspace):
    limits = Limits(address_space=2 << 30, processes=100, file_size=64 << 20, open_files=256, cpu_seconds=600)
    with BwrapJail(workspace, limits=limits) as jail:
        result = sh(jail, "ulimit -v; ulimit -u; ulimit -f; ulimit -n; ulimit -t; ulimit -c")
    assert result.stdout.split() == [str(2 << 20), "100", str((64 << 20) // 1024), "256", "600", "0"]


def test_filling_the_disk_stops_at_the_file_size_limit(workspace):
    with BwrapJail(workspace, limits=Limits(file_size=8 << 20)) as jail:
        result = sh(jail, "head -c 50000000 /dev/zero > big.bin; echo status=$?")
    assert "status=0" not in result.stdout
    assert "status=153" in result.stdout or "File too large" in result.stderr  # SIGXFSZ, or EFBIG where it is ignored
    assert (workspace / "big.bin").stat().st_size == 8 << 20


def test_a_memory_hog_fails_with_memory_error(workspace):
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))\n"
    with BwrapJail(workspace, limits=Limits(address_space=512 << 20)) as jail:
        result = jail.run(["python3", "-c", code], cwd=workspace, timeout=60)
    assert result.returncode == 1 and not result.timed_out
    assert result.stderr.rstrip().endswith("MemoryError")


@pytest.mark.skipif(not AS_ROOT, reason="a per-jail process count needs a host uid of the jail's own")
def test_a_fork_bomb_is_bounded_and_others_keep_working(tmp_path, workspace):
    limit = 64
    counting = ("import os\nchildren = 0\n"
                "while True:\n"
                "    try:\n"
                "        pid = os.fork()\n"
                "    except BlockingIOError:\n"
                "        break\n"
                "    if pid == 0:\n"
                "        os.pause()\n"
                "    children += 1\n"
                "print(children)\n")
    other_ws = tmp_path / "other"
    other_ws.mkdir()
    with BwrapJail(workspace, limits=Limits(processes=limit)) as jail, BwrapJail(other_ws) as other:
        forked = jail.run(["python3", "-c", counting], cwd=workspace, timeout=60)
        assert forked.returncode == 0, forked.stderr
        assert 0 < int(forked.stdout) < limit
        bomb = spawn(jail, ["bash", "-c", ":(){ :|:& };:; while :; do :; done"])
        try:
            assert poll(lambda: len(jail_processes(jail)) >= limit - 8, 30)
            peak = max(len(jail_processes(jail)) for _ in range(20))
            assert peak <= limit
            assert sh(other, "echo fine").stdout == "fine\n"  # another episode is untouched
            assert subprocess.run(["true"]).returncode == 0  # and so is the host
        finally:
            stop(bomb)
        assert poll(lambda: not jail_processes(jail), 30), "the bomb outlived its jail"
        assert sh(jail, "echo recovered").stdout == "recovered\n"


def test_kill_minus_one_ends_only_that_jailed_run(jail):
    neighbour = spawn(jail, ["sleep", "600"])  # the same episode's other process, in its own pid namespace
    host = subprocess.Popen(["sleep", "600"])
    try:
        result = sh(jail, "sleep 600 & python3 -c 'import os; os.kill(-1, 9)'; sleep 30; echo not-reached", timeout=60)
        assert not result.timed_out and "not-reached" not in result.stdout
        assert neighbour.poll() is None and host.poll() is None
        assert sh(jail, "echo next").stdout == "next\n"
    finally:
        stop(neighbour)
        host.kill()
        host.wait()


# -- how it is stopped -------------------------------------------------------------------------------------

def test_a_timeout_kills_every_process_of_the_run(jail):
    result = sh(jail, "sleep 1000 & (sleep 1000 &) ; sleep 1000", timeout=1.0)
    assert result.timed_out and result.returncode is None
    if AS_ROOT:
        assert poll(lambda: not jail_processes(jail), 10)
    assert sh(jail, "echo usable").stdout == "usable\n"


def test_reading_stdin_ends_at_once(jail):
    result = sh(jail, "read line; echo read=$?; cat; python3 -c 'import sys; print(repr(sys.stdin.read()))'", timeout=30)
    assert not result.timed_out
    assert result.stdout == "read=1\n''\n"


def test_a_flood_of_output_is_cut(jail):
    result = jail.run(["python3", "-c", "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * (1 << 20))"],
                      cwd=jail.workspace, timeout=120)
    assert result.returncode == 0
    assert len(result.stdout) == RUN_OUTPUT_LIMIT


def test_a_pty_shell_works_is_interruptible_and_dies_as_a_group(jail):
    argv, env = jail.command(["bash", "--norc", "--noprofile", "--noediting", "-i"])
    env["PS1"] = "READY> "
    child = pexpect.spawn(argv[0], argv[1:], env=env, cwd=str(jail.workspace), encoding="utf-8", timeout=30)
    try:
        child.expect_exact("READY> ")
        assert os.getsid(child.pid) == child.pid  # the session leader: the whole jail is one group to kill
        child.sendline("echo $((6 * 7)) $PWD")
        child.expect_exact("42 /workspace")
        child.expect_exact("READY> ")
        child.sendline("sleep 600")
        assert poll(lambda: foreground_is(child, "sleep"), 30)
        child.sendintr()  # Ctrl-C reaches the jailed foreground job, and the shell survives
        child.expect_exact("READY> ")
        child.sendline("echo still here")
        child.expect_exact("still here")
    finally:
        child.close(force=True)
    if AS_ROOT:
        assert poll(lambda: not jail_processes(jail), 10)


def foreground_is(child: pexpect.spawn, name: str) -> bool:
    """Whether the terminal's foreground process group is running `name` (the job is up)."""
    try:
        group = os.tcgetpgrp(child.child_fd)
        return any(Path(f"/proc/{pid}/comm").read_text().strip() == name
                   for pid in os.listdir("/proc") if pid.isdigit() and os.getpgid(int(pid)) == group)
    except OSError:
        return False


def test_ownership_sync_never_follows_links_out_of_the_workspace(tmp_path, workspace):
    secret = tmp_path / "secret"
    secret.write_text("host only")
    (workspace / "link").symlink_to(secret)
    (workspace / "linked_dir").symlink_to(tmp_path)
    os.link(secret, workspace / "hard")
    with BwrapJail(workspace) as jail:
        result = sh(jail, "cat link; ls linked_dir/; echo end")
        assert result.stdout.strip() == "end"  # the targets do not exist inside
        assert (secret.stat().st_uid, secret.stat().st_gid) == (os.getuid(), os.getgid())
        if AS_ROOT:
            assert (workspace / "input.txt").stat().st_uid == jail._slot.uid


def test_close_kills_what_is_left_and_removes_its_files(workspace):
    jail = BwrapJail(workspace)
    state = jail._state
    process = spawn(jail, ["bash", "-c", "sleep 600 & sleep 600"])
    try:
        if AS_ROOT:
            assert poll(lambda: len(jail_processes(jail)) >= 3, 10)
        jail.close()
        if AS_ROOT:
            assert not jail_processes(jail)
        assert process.wait(timeout=10) is not None
        assert not state.exists()
    finally:
        stop(process)
    with pytest.raises(RuntimeError, match="closed"):
        jail.command(["true"])


def test_a_forked_copy_does_not_close_the_parents_jail(jail):
    pid = os.fork()
    if pid == 0:  # the child's copy of the jail owns nothing
        jail.close()
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    assert jail._state.exists() and sh(jail, "echo alive").stdout == "alive\n"


def test_folders_of_a_killed_owner_are_swept(tmp_path, jail):
    code = ("import os, sys\nfrom pathlib import Path\nfrom ale_gym.runtime.bwrap import BwrapJail\n"
            "jail = BwrapJail(Path(sys.argv[1]))\nprint(jail._state, flush=True)\nos.kill(os.getpid(), 9)\n")
    killed = subprocess.run([sys.executable, "-c", code, str(jail.workspace)], capture_output=True, text=True, timeout=120)
    orphan = Path(killed.stdout.strip())
    assert killed.returncode == -9 and orphan.name.startswith("ale-jail-") and orphan.exists()
    assert bwrap.sweep_stale_state(orphan.parent) >= 1
    assert not orphan.exists() and jail._state.exists()  # a live owner's folder stays


# -- choosing the jail ---------------------------------------------------------------------------------------

def test_make_jail_modes(workspace):
    assert isinstance(make_jail("none", workspace), NoJail)
    with pytest.raises(ValueError, match="bwrap"):
        make_jail("docker", workspace)
    made = make_jail("bwrap", workspace, display=":99", hide_paths=[])
    try:
        assert isinstance(made, BwrapJail) and made.workspace_inside == "/workspace"
    finally:
        made.close()


def test_without_bubblewrap_the_error_says_how_to_enable_it(workspace, monkeypatch):
    monkeypatch.setattr(bwrap.shutil, "which", lambda name: None)
    bwrap_status.cache_clear()
    try:
        usable, reason = bwrap_status()
        assert not usable
        assert "kernel.unprivileged_userns_clone=1" in reason and "apparmor_restrict_unprivileged_userns=0" in reason
        assert 'sandbox="none"' in reason
        with pytest.raises(RuntimeError, match="cannot run here"):
            make_jail("bwrap", workspace)
    finally:
        monkeypatch.undo()
        bwrap_status.cache_clear()
    assert bwrap_status()[0]


def test_concurrent_jails_from_threads(tmp_path):
    results: list[str] = []

    def work(index: int) -> None:
        folder = tmp_path / f"ws{index}"
        folder.mkdir()
        with BwrapJail(folder) as jail:
            results.append(sh(jail, f"echo {index} > mine; cat mine").stdout.strip())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results) == ["0", "1", "2", "3"]


def test_local_package_mirrors_pip_is_configured_with_are_hidden(tmp_path, monkeypatch, workspace):
    """A hidden dataset package must not be readable as a wheel in a local mirror either."""
    mirror = Path("/opt") / f"ale-test-mirror-{os.getpid()}"
    if os.geteuid() != 0:
        pytest.skip("needs to create a folder under /opt")
    (mirror / "simple").mkdir(parents=True)
    (mirror / "files").mkdir()
    (mirror / "files" / "secret_data-1.0-py3-none-any.whl").write_text("future observations\n")
    wheels = Path("/opt") / f"ale-test-wheels-{os.getpid()}"
    wheels.mkdir()
    (wheels / "other-1.0-py3-none-any.whl").write_text("more\n")
    try:
        monkeypatch.setenv("PIP_EXTRA_INDEX_URL", f"file://{mirror}/simple")
        monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
        bwrap.local_package_sources.cache_clear()
        assert {mirror, wheels} <= set(bwrap.local_package_sources())
        with BwrapJail(workspace) as jailed:
            result = jailed.run(["bash", "-c", f"cat {mirror}/files/*.whl {wheels}/*.whl; ls {mirror} {wheels}"],
                                cwd=workspace, timeout=30)
        assert "future observations" not in result.stdout and "more" not in result.stdout
        assert "secret_data" not in result.stdout
    finally:
        bwrap.local_package_sources.cache_clear()
        shutil.rmtree(mirror, ignore_errors=True)
        shutil.rmtree(wheels, ignore_errors=True)
