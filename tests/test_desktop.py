"""The desktop runtime against real Xvfb, openbox, xterm and xev: isolation, input, screen, windows, cleanup."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ale_gym import actions as A
from ale_gym.runtime.desktop import Desktop, poll

pytestmark = pytest.mark.gui

APP_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


@pytest.fixture
def desktop():
    desk = Desktop(width=1024, height=768).start()
    yield desk
    desk.close()


def cat_terminal(desk: Desktop, title: str, out: Path, background: str = "black") -> subprocess.Popen[bytes]:
    """An xterm whose shell copies typed lines into `out`: the file shows exactly what the keyboard sent."""
    process = desk.launch(["xterm", "-T", title, "-bg", background, "-fg", "white", "-geometry", "80x24",
                           "-e", "sh", "-c", f"exec cat > '{out}'"], APP_ENV)
    desk.wait_for_window(f"^{title}$", timeout=30)
    return process


def end_terminal(desk: Desktop, process: subprocess.Popen[bytes]) -> None:
    desk.perform(A.key("ctrl", "d"))  # EOF on an empty line: cat ends, and xterm with it
    process.wait(timeout=30)


def event_probe(desk: Desktop, out: Path) -> tuple[int, int]:
    """An xev window logging every mouse and key event into `out`; returns a point inside it."""
    desk.launch(["sh", "-c", f"exec xev -name probe -geometry 400x300 -event mouse -event keyboard > '{out}'"], APP_ENV)
    window = desk.wait_for_window("^probe$", timeout=30)
    assert window.focused
    return window.x + 100, window.y + 100


def events(out: Path, kind: str) -> list[str]:
    text = out.read_text(errors="replace") if out.exists() else ""
    return re.findall(rf"^{kind} event,.*?(?=^\S|\Z)", text, flags=re.DOTALL | re.MULTILINE)


def test_two_desktops_in_one_process_keep_their_input_and_screens_apart(tmp_path: Path) -> None:
    before = os.environ.get("DISPLAY")
    with Desktop(640, 480) as one, Desktop(640, 480) as two:
        assert one.display != two.display
        assert os.environ.get("DISPLAY") == before
        out_one, out_two = tmp_path / "one.txt", tmp_path / "two.txt"
        term_one = cat_terminal(one, "term-one", out_one)
        term_two = cat_terminal(two, "term-two", out_two)
        lines_one = [f"alpha {i} on the first screen\n" for i in range(5)]
        lines_two = [f"bravo {i} auf dem zweiten Bildschirm: ü €\n" for i in range(5)]
        for line_one, line_two in zip(lines_one, lines_two):
            one.perform(A.type_text(line_one))
            two.perform(A.type_text(line_two))
        assert [w.title for w in one.windows()] == ["term-one"]
        assert [w.title for w in two.windows()] == ["term-two"]
        frame_one, frame_two = one.wait_until_still(), two.wait_until_still()
        assert frame_one.shape == frame_two.shape == (480, 640, 3)
        assert not np.array_equal(frame_one, frame_two)  # same layout, different echoed text
        end_terminal(one, term_one)
        end_terminal(two, term_two)
    assert out_one.read_text(encoding="utf-8") == "".join(lines_one)
    assert out_two.read_text(encoding="utf-8") == "".join(lines_two)


def test_screenshot_is_rgb_of_its_own_display() -> None:
    with Desktop(640, 480) as red, Desktop(640, 480) as blue:
        red.launch(["xterm", "-T", "red", "-bg", "#ff0000", "-geometry", "40x10"], APP_ENV)
        blue.launch(["xterm", "-T", "blue", "-bg", "#0000ff", "-geometry", "40x10"], APP_ENV)
        for desk, title, colour in ((red, "red", (255, 0, 0)), (blue, "blue", (0, 0, 255))):
            window = desk.wait_for_window(title, timeout=30)
            corner = (window.y + window.height - 3, window.x + window.width - 3)
            assert poll(lambda d=desk, c=corner, rgb=colour: tuple(d.screenshot()[c]) == rgb, 10), desk.screenshot()[corner]
            frame = desk.screenshot()
            assert frame.dtype == np.uint8 and frame.flags.c_contiguous
            assert frame[0, 0].tolist() == [0, 0, 0]  # the bare root window outside the xterm


def test_mouse_and_keyboard_events_arrive_as_sent(desktop: Desktop, tmp_path: Path) -> None:
    log = tmp_path / "xev.txt"
    x, y = event_probe(desktop, log)
    desktop.perform(A.click(x, y))
    desktop.perform(A.click(x + 10, y, button="right"))
    desktop.perform(A.click(x + 20, y, clicks=2))
    desktop.perform(A.scroll(2, x, y))
    desktop.perform(A.scroll(-1))
    desktop.perform(A.drag(x, y, x + 60, y + 40))
    desktop.perform(A.key("ctrl", "s"))
    desktop.perform(A.key("+"))
    desktop.perform(A.type_text("Aé"))
    assert poll(lambda: len(events(log, "KeyRelease")) >= 7, 10), log.read_text()[-2000:]
    presses = [re.search(r"\((\d+),(\d+)\).*?button (\d+)", e, re.DOTALL).groups() for e in events(log, "ButtonPress")]
    assert presses == [("100", "100", "1"), ("110", "100", "3"), ("120", "100", "1"), ("120", "100", "1"),
                       ("100", "100", "4"), ("100", "100", "4"), ("100", "100", "5"), ("100", "100", "1")]
    releases = [re.search(r"\((\d+),(\d+)\).*?button (\d+)", e, re.DOTALL).groups() for e in events(log, "ButtonRelease")]
    assert releases[-1] == ("160", "140", "1")  # the drag ends where it was sent
    keys = [re.search(r"state (0x\w+), keycode \d+ \(keysym 0x\w+, (\w+)\)", e).groups() for e in events(log, "KeyPress")]
    assert keys == [("0x0", "Control_L"), ("0x4", "s"), ("0x0", "Shift_L"), ("0x1", "plus"),
                    ("0x0", "Shift_L"), ("0x1", "A"), ("0x0", "eacute")]


def test_bad_actions_raise_value_error_and_send_nothing(desktop: Desktop, tmp_path: Path) -> None:
    log = tmp_path / "xev.txt"
    event_probe(desktop, log)
    bad = [A.click(1024, 10), A.click(10, 768), A.move(5000, 5), A.drag(10, 10, 10, 900), A.scroll(1, 1024, 0),
           A.key("ctrl", "command"), A.key("ctrlx"), A.type_text("tab\x00zero"), A.shell("ls")]
    for action in bad:
        with pytest.raises(ValueError):
            desktop.perform(action)
    desktop.perform(A.key("f24"))  # a marker: every event before it would already be in the log
    assert poll(lambda: events(log, "KeyRelease"), 10)
    assert [e for e in events(log, "KeyPress")] and all("F24" in e for e in events(log, "KeyPress"))
    assert events(log, "ButtonPress") == []


def test_windows_list_titles_geometry_and_focus(desktop: Desktop) -> None:
    assert desktop.windows() == []
    desktop.launch(["xterm", "-T", "left-term", "-geometry", "40x10+10+10"], APP_ENV)
    first = desktop.wait_for_window("left-term")
    desktop.launch(["xterm", "-T", "right-term", "-geometry", "40x10+600+300"], APP_ENV)
    second = desktop.wait_for_window("right-term")
    assert second.focused  # a new window takes the focus
    listed = {w.title: w for w in desktop.windows()}
    assert set(listed) == {"left-term", "right-term"}
    assert [w.title for w in listed.values() if w.focused] == ["right-term"]
    for window in listed.values():
        assert 0 <= window.x and window.x + window.width <= 1024 and 0 <= window.y and window.y + window.height <= 768
        assert window.width > 100 and window.height > 50
    assert listed["right-term"].x > listed["left-term"].x + listed["left-term"].width
    desktop.perform(A.click(first.x + first.width // 2, first.y + first.height // 2))
    assert poll(lambda: [w.title for w in desktop.windows() if w.focused] == ["left-term"], 10)


def test_wait_for_window_times_out_naming_the_title_and_dead_apps(desktop: Desktop) -> None:
    process = desktop.launch(["sh", "-c", "echo cannot open display-less thing >&2; exit 3"], APP_ENV)
    process.wait(timeout=10)
    with pytest.raises(TimeoutError, match=r"(?s)'never-there'.*exited with 3.*cannot open"):
        desktop.wait_for_window("never-there", timeout=0.2)
    with pytest.raises(ValueError):
        desktop.wait_for_window("(unclosed", timeout=0.2)
    with pytest.raises(ValueError):
        desktop.launch(["xterm"], {**APP_ENV, "DISPLAY": ":0"})


def test_a_desktop_that_is_not_running_refuses_work() -> None:
    desk = Desktop(320, 240)
    with pytest.raises(RuntimeError):
        desk.screenshot()
    with pytest.raises(RuntimeError):
        _ = desk.display
    desk.start()
    desk.close()
    desk.close()  # idempotent
    with pytest.raises(RuntimeError):
        desk.perform(A.move(1, 1))
    with pytest.raises(RuntimeError):
        desk.start()
    with pytest.raises(ValueError):
        Desktop(0, 240)


def _children() -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _processes_naming(display: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if display.encode() in args:
            found.append(b" ".join(args).decode(errors="replace"))
    return found


@pytest.mark.slow
def test_start_close_cycles_leave_no_process_lock_or_socket() -> None:
    children_before = _children()
    for cycle in range(20):
        desk = Desktop(320, 240).start()
        number = desk.display[1:]
        if cycle % 5 == 0:
            desk.launch(["xterm", "-T", "short-lived"], APP_ENV)
            desk.wait_for_window("short-lived")
        desk.close()
        assert not Path(f"/tmp/.X{number}-lock").exists()
        assert not Path(f"/tmp/.X11-unix/X{number}").exists()
        assert _processes_naming(f":{number}") == []
        assert _children() <= children_before


@pytest.mark.slow
def test_typing_under_cpu_load_drops_nothing(desktop: Desktop, tmp_path: Path) -> None:
    out = tmp_path / "typed.txt"
    term = cat_terminal(desktop, "loaded", out)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        text = "".join(f"{i:04d} The quick brown fox (jumps) over {{the}} lazy dog; ½ € ß Ωμέγα 漢字!\n" for i in range(40))
        desktop.perform(A.type_text(text))
        end_terminal(desktop, term)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert out.read_text(encoding="utf-8") == text


# -- through the environment ------------------------------------------------------------------------

def _wait_for_window_in_jail(title: str) -> A.Action:
    """What an agent would run: poll for the window with xwininfo (x11-utils) inside its own jail."""
    return A.shell(f"for i in $(seq 300); do xwininfo -name {title} 2>/dev/null | grep -q IsViewable && break; "
                   f"sleep 0.1; done; xwininfo -name {title} | grep 'Map State'")


def test_two_envs_type_into_their_own_xterms_started_from_the_shell(sandbox: str) -> None:
    import gymnasium as gym

    envs = [gym.make("ALE/Word-Stats-v0", sandbox=sandbox, gui=True, render_mode="rgb_array") for _ in range(2)]
    try:
        texts = ["first env writes this\n", "zweite Umgebung schreibt das: ✓\n"]
        for env in envs:
            env.reset(seed=0)
            env.step(A.shell("xterm -T typist -e sh -c 'cat > typed.txt' >/dev/null 2>&1 &"))
            _, _, _, _, info = env.step(_wait_for_window_in_jail("typist"))
            assert [w["title"] for w in info["windows"]] == ["typist"]
        for env, text in zip(envs, texts):
            env.step(A.type_text(text))
        # Same window, same place: the screens differ only once each xterm has echoed its own text.
        assert poll(lambda: not np.array_equal(envs[0].render(), envs[1].render()), 10)
        for env in envs:
            env.step(A.key("ctrl", "d"))
        for env, text in zip(envs, texts):
            typed = env.unwrapped.workspace / "typed.txt"
            assert poll(lambda f=typed, t=text: f.exists() and f.read_text(encoding="utf-8") == t, 20), typed.read_bytes()
    finally:
        for env in envs:
            env.close()


def test_sync_vector_env_drives_each_desktop_on_its_own(sandbox: str) -> None:
    import gymnasium as gym

    def batch(*actions: A.Action) -> dict:
        return {key: tuple(a[key] for a in actions) if key == "text" else np.stack([a[key] for a in actions])
                for key in actions[0]}

    envs = gym.make_vec("ALE/Word-Stats-v0", num_envs=2, vectorization_mode="sync", sandbox=sandbox, gui=True)
    try:
        envs.reset(seed=[0, 1])
        start = A.shell("xterm -T typist -e sh -c 'cat > typed.txt' >/dev/null 2>&1 &")
        envs.step(batch(start, start))
        envs.step(batch(_wait_for_window_in_jail("typist"), _wait_for_window_in_jail("typist")))
        texts = ("left desktop\n", "right desktop ✓\n")
        envs.step(batch(*(A.type_text(t) for t in texts)))
        envs.step(batch(A.key("ctrl", "d"), A.key("ctrl", "d")))
        for env, text in zip(envs.envs, texts):
            typed = env.unwrapped.workspace / "typed.txt"
            assert poll(lambda f=typed, t=text: f.exists() and f.read_text(encoding="utf-8") == t, 20), typed.read_bytes()
    finally:
        envs.close()


def test_record_video_of_a_desktop_episode_is_playable(tmp_path: Path, sandbox: str) -> None:
    import gymnasium as gym
    from moviepy import VideoFileClip

    env = gym.make("ALE/Word-Stats-v0", sandbox=sandbox, gui=True, render_mode="rgb_array")
    env = gym.wrappers.RecordVideo(env, str(tmp_path / "videos"), episode_trigger=lambda i: True, disable_logger=True)
    env.reset(seed=0)
    env.step(A.shell("xterm -T redterm -bg red -geometry 80x24 >/dev/null 2>&1 &"))
    env.step(_wait_for_window_in_jail("redterm"))
    frame = env.render()
    assert frame.shape == (800, 1280, 3)
    env.step(A.move(10, 10))
    env.step(A.submit())
    env.close()
    [video] = (tmp_path / "videos").glob("*.mp4")
    with VideoFileClip(str(video)) as clip:
        assert clip.size == [1280, 800] and clip.duration > 0
        last = clip.get_frame(clip.duration - 1.0 / clip.fps)
    red = (last[..., 0] > 180) & (last[..., 1] < 80) & (last[..., 2] < 80)
    assert red.sum() > 50_000  # the xterm's red window is in the recording


@pytest.mark.slow
def test_fifty_env_make_reset_close_cycles_leave_nothing(sandbox: str) -> None:
    import gymnasium as gym

    children_before = _children()
    for _ in range(50):
        env = gym.make("ALE/Word-Stats-v0", sandbox=sandbox, gui=True)
        env.reset(seed=0)
        env.step(A.shell("xterm -T lingering >/dev/null 2>&1 &"))
        number = env.unwrapped._desktop.display[1:]
        env.close()
        assert not Path(f"/tmp/.X{number}-lock").exists()
        assert not Path(f"/tmp/.X11-unix/X{number}").exists()
        assert _processes_naming(f":{number}") == []
        assert _children() <= children_before


def test_a_dead_x_server_is_a_clear_error_and_close_still_cleans_up() -> None:
    desk = Desktop(320, 240).start()
    number = desk.display[1:]
    [pid] = [int(c.parent.name) for c in Path("/proc").glob("[0-9]*/cmdline")
             if c.exists() and c.read_bytes().split(b"\0")[:2] == [b"Xvfb", f":{number}".encode()]]
    os.kill(pid, 9)
    assert poll(lambda: Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z", 10)
    for call in (desk.windows, desk.screenshot, lambda: desk.perform(A.key("a"))):
        with pytest.raises(RuntimeError, match="X server"):
            call()
    assert Path(f"/tmp/.X11-unix/X{number}").exists()  # a killed Xvfb leaves its socket behind...
    desk.close()
    assert not Path(f"/tmp/.X11-unix/X{number}").exists()  # ...which close() removes
    assert not Path(f"/tmp/.X{number}-lock").exists()
    assert _processes_naming(f":{number}") == []
