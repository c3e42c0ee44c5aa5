"""The bubblewrap jail: everything the agent runs, and agent code a checker runs, goes through here.

Inside, the agent sees a root built from the host's system directories (read-only), the Python
installation of this process (so numpy, ezdxf, cocotb ... import), its workspace at `/workspace`
(writable), a private `/tmp`, `/home/agent` and `/proc`, and, with a desktop, the one X socket of its
display. Nothing else of the host exists in there: not the ale_gym installation or its source checkout,
not the task folders and their hidden references, not other episodes, not `/root` or `/home`.
Everything that must stay hidden yet lies under a visible directory (a dataset package inside the
venv, a non-editable ale_gym install) is masked with an empty, read-only mount; masked Python packages
get an `__init__.py` that raises ImportError, so `import ale_gym` fails inside.

Processes run as uid 1000 in a user namespace, with no capabilities, no network (`--unshare-all`),
their own pid namespace, and `--die-with-parent`. When the host side is root, each jail also runs as a
host uid of its own (taken from a block of free uids, held with an abstract-socket lock), because
RLIMIT_NPROC is not enforced for processes whose host uid is 0, and a shared uid would let one
episode's fork bomb starve the others. The process limit then counts exactly this episode's processes,
and `close()` can end every one of them by uid. A short launcher (this file run as a script, standard
library only) does the root-only part: it prepares a private mount namespace in which the
sources of the jail's bind mounts are reachable by that uid (a venv under `/root` is not), sets the
resource limits, drops to the jail's uid and execs bwrap.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

# ---- the launcher: runs as a script with the standard library only (python -I -S bwrap.py SPEC) ----

_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 0x2, 0x4, 0x1000, 0x4000, 0x40000


def _launch(spec: dict[str, Any]) -> NoReturn:
    """Prepare the mounts' sources, set limits, drop to the jail's uid, exec bwrap with the caller's env."""
    import ctypes
    import resource

    argv = [spec["bwrap"]]
    stage = spec.get("stage")
    libc = ctypes.CDLL(None, use_errno=True)

    def encode(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
        if libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"mount {source} on {target}: {os.strerror(error)}")

    if stage:
        if libc.unshare(_CLONE_NEWNS) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"unshare(CLONE_NEWNS): {os.strerror(error)}")
        mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)
        mount("tmpfs", stage, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=64k")
    for index, item in enumerate(spec["args"]):
        if isinstance(item, str):
            argv.append(item)
            continue
        source = item["src"]
        if stage:
            target = os.path.join(stage, str(index))
            if os.path.isdir(source):
                os.mkdir(target)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            mount(source, target, None, _MS_BIND | _MS_REC, None)
            source = target
        argv.append(source)
    argv.append("--clearenv")
    for key, value in sorted(os.environ.items()):
        argv += ["--setenv", key, value]
    if spec["new_session"] or os.getsid(0) != os.getpid():
        argv.append("--new-session")
    argv += ["--", *spec["command"]]
    for name, value in spec["rlimits"].items():
        limit = getattr(resource, name)
        hard = resource.getrlimit(limit)[1]
        if os.geteuid() != 0 and hard != resource.RLIM_INFINITY:
            value = min(value, hard)  # only root may raise a hard limit
        resource.setrlimit(limit, (value, value))
    if spec["uid"] is not None:
        os.setgroups([])
        os.setresgid(spec["gid"], spec["gid"], spec["gid"])
        os.setresuid(spec["uid"], spec["uid"], spec["uid"])
    os.execv(argv[0], argv)


if __name__ == "__main__":
    try:
        _launch(json.loads(sys.argv[1]))
    except OSError as exc:
        sys.stderr.write(f"ale_gym jail launcher: {exc}\n")
        sys.exit(126)

# ---- the host side (imports below the launcher, which must not need anything but the standard library) ----

import atexit  # noqa: E402
import functools  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import stat  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import weakref  # noqa: E402
from pathlib import Path  # noqa: E402

from ale_gym.runtime.jail import Jail, Limits, NoJail, base_environment, run_process  # noqa: E402
from ale_gym.tasks.base import RunResult  # noqa: E402

WORKSPACE_INSIDE = "/workspace"
HOME_INSIDE = "/home/agent"
UID_INSIDE = 1000
UID_BASE_VARIABLE = "ALE_GYM_JAIL_UID_BASE"
DEFAULT_UID_BASE = 1_500_000_000
UID_SLOTS = 4096
SHM_SIZE = 256 << 20
CLOSE_TIMEOUT = 10.0
STATE_PREFIX = "ale-jail-"
SYSTEM_DIRS = ("/usr", "/etc", "/opt", "/var")
ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
ALWAYS_HIDDEN = ("/tmp", "/root", "/home", "/run", "/mnt", "/media", "/srv")
BLOCKED_INIT = 'raise ImportError("this package is not available inside the ale_gym jail")\n'
ENABLE_HINT = (
    "To enable it: install bubblewrap (apt-get install bubblewrap) and allow unprivileged user namespaces "
    "(sysctl -w kernel.unprivileged_userns_clone=1 on Debian kernels; "
    "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 23.10+; "
    "sysctl -w user.max_user_namespaces=15000 if it is 0; inside Docker, run with --privileged or a "
    "seccomp profile that allows unshare). Or pass sandbox=\"none\" to run agent code unjailed (it warns "
    "at every reset)."
)


class _UidSlot:
    """A host uid owned by one jail: its processes, its process count, nothing shared with other jails."""

    def __init__(self) -> None:
        self._lock: socket.socket | None = None
        if os.geteuid() != 0:
            # Without root the jail runs as the caller's own uid; limits then share that uid's count.
            self.uid, self.gid, self.exclusive = os.getuid(), os.getgid(), False
            return
        base = _uid_base()
        for uid in range(base, base + UID_SLOTS):
            lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                lock.bind(f"\0ale_gym.jail.uid.{uid}")
            except OSError:
                lock.close()
                continue
            if _processes_of(uid):  # left over from a process that died without closing its jail
                lock.close()
                continue
            self._lock, self.uid, self.gid, self.exclusive = lock, uid, uid, True
            return
        raise RuntimeError(f"all {UID_SLOTS} jail uids from {base} are in use")

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _uid_base() -> int:
    """The first of UID_SLOTS consecutive uids mapped in this (possibly nested) user namespace."""
    wanted = int(os.environ.get(UID_BASE_VARIABLE, DEFAULT_UID_BASE))
    extents = []
    try:
        with open("/proc/self/uid_map") as handle:
            for line in handle:
                inside, _, count = (int(x) for x in line.split())
                extents.append((inside, inside + count))
    except OSError:
        return wanted
    if any(lo <= wanted and wanted + UID_SLOTS <= hi for lo, hi in extents):
        return wanted
    lo, hi = max(extents, key=lambda e: e[1] - e[0])
    top = min(hi, 65534) if hi <= 65536 else hi  # keep clear of nobody (65534) in small mappings
    if top - UID_SLOTS < max(lo, 1000):
        raise RuntimeError(f"no block of {UID_SLOTS} free uids in this user namespace (uid_map {extents})")
    return top - UID_SLOTS


def _processes_of(uid: int) -> list[int]:
    """Host pids whose real uid is `uid`, zombies (dead, waiting for their parent to reap them) left out."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if line[:4] in ("Stat", "Uid:"))
            if int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith(("Z", "X")):
                found.append(int(entry))
        except (OSError, ValueError, KeyError):
            continue
    return found


def _tasks_of(uid: int) -> int:
    """Threads and processes of `uid` (what RLIMIT_NPROC counts)."""
    total = 0
    for pid in _processes_of(uid):
        try:
            total += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return total


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _traversable_by_others(path: Path) -> bool:
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in [path, *path.parents])


def python_roots() -> list[Path]:
    """The folders this interpreter and its packages live in; agent Python runs from the same ones."""
    candidates = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix),
                  Path(os.path.realpath(sys.executable)).parent.parent}
    if os.environ.get("VIRTUAL_ENV"):
        candidates.add(Path(os.environ["VIRTUAL_ENV"]))
    roots = sorted(p.resolve() for p in candidates if p.is_dir())
    return [p for p in roots if not any(q != p and _is_within(p, q) for q in roots)]


PIP_SOURCE_KEYS = ("find-links", "index-url", "extra-index-url")


@functools.lru_cache(maxsize=1)
def local_package_sources() -> tuple[Path, ...]:
    """Local package mirrors and wheel folders pip is configured with.

    A dataset package a task hides (vega_datasets, say) would still be readable inside the jail as a
    wheel in a local mirror, so the folders behind pip's find-links and file:// indexes are masked too.
    """
    import configparser

    home = Path(os.path.expanduser("~"))
    files = [Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf"), home / ".pip" / "pip.conf",
             home / ".config" / "pip" / "pip.conf", Path(sys.prefix) / "pip.conf"]
    files += [Path(d) / "pip" / "pip.conf" for d in os.environ.get("XDG_CONFIG_DIRS", "").split(os.pathsep) if d]
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    values: list[str] = [os.environ.get("PIP_" + key.upper().replace("-", "_"), "") for key in PIP_SOURCE_KEYS]
    for file in files:
        parser = configparser.RawConfigParser()
        try:
            parser.read(file)
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in parser.sections():
            values += [parser.get(section, key) for key in PIP_SOURCE_KEYS if parser.has_option(section, key)]
    found = []
    for item in " ".join(values).split():
        path = Path(item[len("file://"):]) if item.startswith("file://") else Path(item) if item.startswith("/") else None
        if path is None:
            continue
        if path.name == "simple":  # an index's pages point into its parent (…/files/*.whl)
            path = path.parent
        if path.is_dir() and path != Path("/"):
            found.append(path.resolve())
    return tuple(found)


def sensitive_paths() -> list[Path]:
    """Host paths the agent must never see: the ale_gym installation, its checkout and every task folder."""
    import ale_gym
    from ale_gym.tasks import registry

    package = Path(ale_gym.__file__).resolve().parent
    found = [package, registry.builtin_envs_dir().resolve(), registry.builtin_data_dir().resolve()]
    found += [p.resolve() for p in registry.extra_task_roots() if p.exists()]
    for entry in registry.all_entries():  # also folders registered by path at run time
        found += [entry.folder.resolve(), entry.data_dir.resolve()]
    for parent in package.parents:  # an editable install: the source checkout holding pyproject.toml
        if (parent / "pyproject.toml").is_file():
            found.append(parent)
            break
    found.append(Path(tempfile.gettempdir()).resolve())
    found += local_package_sources()
    return found


def display_socket(display: str | None) -> Path | None:
    """The X socket of a local display like ':12' or ':12.0'."""
    if not display or not display.startswith(":"):
        return None
    number = display[1:].split(".")[0]
    return Path(f"/tmp/.X11-unix/X{number}") if number.isdigit() else None


def _process_identity(pid: int) -> str | None:
    """pid and start time: unlike the pid alone, never the same for two processes."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return f"{pid} {handle.read().rsplit(')', 1)[1].split()[19]}"
    except (OSError, IndexError):
        return None


def sweep_stale_state(folder: Path | None = None) -> int:
    """Remove jail folders whose owning process died without closing them (killed, or os._exit)."""
    removed = 0
    root = Path(folder or tempfile.gettempdir())
    try:
        candidates = [p for p in root.iterdir() if p.name.startswith(STATE_PREFIX)]
    except OSError:
        return 0
    for candidate in candidates:
        try:
            owner = (candidate / "owner").read_text().strip()
        except OSError:
            continue  # not one of ours, or still being made
        if owner and _process_identity(int(owner.split()[0])) != owner:
            shutil.rmtree(candidate, ignore_errors=True)
            removed += 1
    return removed


_LIVE: weakref.WeakSet[BwrapJail] = weakref.WeakSet()
_SWEPT: set[str] = set()


@atexit.register
def _close_live_jails() -> None:
    for jail in list(_LIVE):
        jail.close()


class BwrapJail(Jail):
    """One episode's jail. `command` gives the argv/env of a jailed process; `run` runs agent code for checkers."""

    def __init__(self, workspace: Path, display: str | None = None, hide_paths: list[Path] | tuple[Path, ...] = (),
                 limits: Limits | None = None) -> None:
        super().__init__(Path(workspace), display, limits)
        self.bwrap = shutil.which("bwrap") or "bwrap"
        self._slot = _UidSlot()
        self._closed = False
        self._owner = os.getpid()  # a forked copy of this object owns nothing: its close() does nothing
        tmp = tempfile.gettempdir()
        if tmp not in _SWEPT:
            _SWEPT.add(tmp)
            sweep_stale_state(Path(tmp))
        self._state = Path(tempfile.mkdtemp(prefix=STATE_PREFIX))
        try:
            self._state.chmod(0o755)
            (self._state / "owner").write_text(_process_identity(os.getpid()) or "")
            self._staged = self._slot.exclusive
            if self._staged and not _traversable_by_others(self._state):
                raise RuntimeError(f"the jail's state folder {self._state} is not reachable by other users; "
                                   "set TMPDIR to a world-traversable folder")
            for name in ("home", "tmp", "stage"):
                (self._state / name).mkdir()
            (self._state / "blocked_init.py").write_text(BLOCKED_INIT)
            (self._state / "passwd").write_text(
                "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                f"agent:x:{UID_INSIDE}:{UID_INSIDE}:agent:{HOME_INSIDE}:/bin/bash\n"
                "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
            (self._state / "group").write_text(f"root:x:0:\nagent:x:{UID_INSIDE}:\nnogroup:x:65534:\n")
            for name in ("home", "tmp"):
                self._own(self._state / name)
            self._python = python_roots()
            self._masks = self._compute_masks([Path(p) for p in hide_paths])
            _LIVE.add(self)
        except BaseException:
            self.close()
            raise

    # -- what is visible -----------------------------------------------------------------------------
    @property
    def workspace_inside(self) -> str:
        return WORKSPACE_INSIDE

    def _visible_roots(self) -> list[Path]:
        return [Path(d) for d in SYSTEM_DIRS if os.path.isdir(d)] + self._python

    def _compute_masks(self, hide_paths: list[Path]) -> list[Path]:
        """Hidden paths that lie under a directory the jail shows; everything else is simply not mounted."""
        hidden = {p.resolve() for p in sensitive_paths() + hide_paths if p.exists()}
        hidden |= {Path(p) for p in ALWAYS_HIDDEN if os.path.isdir(p)}
        masks = [path for path in hidden if any(_is_within(path, root) and path != root for root in self._visible_roots())]
        masks = [m for m in masks if m != Path("/var/tmp")]  # gets its own private, writable tmpfs

        def covered(mask: Path) -> bool:  # by another mask, with no interpreter folder bound back in between
            return any(o != mask and _is_within(mask, o) and not any(_is_within(mask, r) and _is_within(r, o)
                                                                       for r in self._python) for o in masks)

        return sorted(m for m in masks if not covered(m))

    def _own(self, path: Path) -> None:
        """Give a tree to the jail's uid, so the agent can write where it should.

        The agent may be swapping folders for links while this runs, so the walk holds folder fds and
        never follows a link (os.fwalk), and files with several hard links are left alone.
        """
        if not self._slot.exclusive:
            return
        uid, gid = self._slot.uid, self._slot.gid
        try:
            os.chown(path, uid, gid, follow_symlinks=False)
            for _, subfolders, files, folder_fd in os.fwalk(path, follow_symlinks=False):
                for name in subfolders + files:
                    try:
                        info = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
                        if (info.st_uid, info.st_gid) == (uid, gid):
                            continue
                        if stat.S_ISDIR(info.st_mode) or (stat.S_ISREG(info.st_mode) and info.st_nlink == 1):
                            os.chown(name, uid, gid, dir_fd=folder_fd, follow_symlinks=False)
                    except OSError:
                        continue
        except OSError:
            return

    def sync_ownership(self) -> None:
        """Hand files written into the workspace by the host (after the jail was made) to the agent."""
        self._own(self.workspace)

    # -- building the command ------------------------------------------------------------------------
    def _rlimits(self) -> dict[str, int]:
        limits = self.limits
        processes = limits.processes
        if not self._slot.exclusive:
            processes += _tasks_of(self._slot.uid)  # the count is shared with the caller's own processes
        return {"RLIMIT_AS": limits.address_space, "RLIMIT_NPROC": processes, "RLIMIT_FSIZE": limits.file_size,
                "RLIMIT_NOFILE": limits.open_files, "RLIMIT_CPU": limits.cpu_seconds, "RLIMIT_CORE": 0}

    def _bwrap_args(self, workspace: Path, private_state: bool) -> list[Any]:
        args: list[Any] = ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(UID_INSIDE),
                           "--gid", str(UID_INSIDE), "--hostname", "ale", "--die-with-parent", "--cap-drop", "ALL"]
        for folder in SYSTEM_DIRS:
            if os.path.isdir(folder):
                args += ["--ro-bind", folder, folder]
        for name in ROOT_LINKS:
            path = f"/{name}"
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        args += ["--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu",
                 "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(SHM_SIZE), "--tmpfs", "/dev/shm",
                 "--tmpfs", "/run", "--tmpfs", "/var/tmp"]
        # The private /tmp and home go on before the interpreter, which may live below them (a checkout
        # cloned under /tmp with its .venv inside): its bind then lands on top of them, not under them.
        if private_state:
            args += ["--perms", "0700", "--tmpfs", HOME_INSIDE, "--perms", "1777", "--tmpfs", "/tmp"]
        else:
            args += ["--bind", {"src": str(self._state / "home")}, HOME_INSIDE,
                     "--bind", {"src": str(self._state / "tmp")}, "/tmp"]
        # A mask holding the interpreter (a checkout under /opt with its .venv inside) goes on first and
        # the interpreter is bound back into it; every other mask goes on top of the interpreter's folders.
        holders = [m for m in self._masks if any(_is_within(root, m) for root in self._python)]
        for mask in holders:
            args += ["--tmpfs", str(mask)]
        for root in self._python:
            args += ["--ro-bind", {"src": str(root)}, str(root)]
        for mask in self._masks:
            if mask in holders:
                args += ["--remount-ro", str(mask)]
            elif mask.is_dir():
                args += ["--tmpfs", str(mask)]
                if (mask / "__init__.py").exists():
                    args += ["--ro-bind", {"src": str(self._state / "blocked_init.py")}, str(mask / "__init__.py")]
                args += ["--remount-ro", str(mask)]
            else:
                args += ["--ro-bind", "/dev/null", str(mask)]
        args += ["--ro-bind", {"src": str(self._state / "passwd")}, "/etc/passwd",
                 "--ro-bind", {"src": str(self._state / "group")}, "/etc/group"]
        socket_path = display_socket(self.display)
        if socket_path is not None and socket_path.exists():
            args += ["--ro-bind", {"src": str(socket_path)}, str(socket_path)]
        args += ["--bind", {"src": str(workspace)}, WORKSPACE_INSIDE, "--chdir", WORKSPACE_INSIDE, "--remount-ro", "/"]
        return args

    def _launcher(self, argv: list[str], workspace: Path, env: dict[str, str] | None, private_state: bool,
                  new_session: bool) -> tuple[list[str], dict[str, str]]:
        if self._closed:
            raise RuntimeError("this jail is closed")
        self._own(workspace)
        spec = {
            "bwrap": self.bwrap,
            "uid": self._slot.uid if self._slot.exclusive else None,
            "gid": self._slot.gid if self._slot.exclusive else None,
            "stage": str(self._state / "stage") if self._staged else None,
            "rlimits": self._rlimits(),
            "args": self._bwrap_args(workspace, private_state),
            "new_session": new_session,
            "command": list(argv),
        }
        merged = base_environment(HOME_INSIDE, self.display)
        merged.update({"USER": "agent", "LOGNAME": "agent", "SHELL": "/bin/bash", "TMPDIR": "/tmp"})
        merged.update(env or {})
        return [sys.executable, "-I", "-S", os.path.abspath(__file__), json.dumps(spec)], merged

    def command(self, argv: list[str], *, workspace: Path | None = None, env: dict[str, str] | None = None,
                new_session: bool = False) -> tuple[list[str], dict[str, str]]:
        """Host argv and env of `argv` jailed; the env given to the host process is exactly what runs inside.

        bwrap's `--new-session` (which keeps a jailed process from typing into the caller's terminal) is
        added whenever the process is not the leader of its own session; a session leader, such as a
        shell that pexpect gives a private pty, keeps that terminal so Ctrl-C reaches its foreground job.
        `new_session=True` forces it.
        """
        return self._launcher(argv, Path(workspace or self.workspace), env, private_state=False,
                              new_session=new_session)

    def run(self, argv: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> RunResult:
        """Run agent code for a checker: `cwd` is the workspace; /tmp and home are fresh, not the episode's."""
        host_argv, host_env = self._launcher(argv, Path(cwd), env, private_state=True, new_session=True)
        return run_process(host_argv, host_env, cwd=Path(cwd), timeout=timeout)

    # -- teardown ------------------------------------------------------------------------------------
    def kill_all(self) -> int:
        """SIGKILL every process of this jail (by its own uid); returns how many remain (0 when done)."""
        if not self._slot.exclusive:
            return 0
        deadline = time.monotonic() + CLOSE_TIMEOUT
        while True:
            pids = _processes_of(self._slot.uid)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            if not pids or time.monotonic() >= deadline:
                return len(pids)
            time.sleep(0.01)

    def close(self) -> None:
        if getattr(self, "_closed", True) or getattr(self, "_owner", None) != os.getpid():
            return
        self._closed = True
        _LIVE.discard(self)
        if getattr(self, "_slot", None) is not None:
            remaining = self.kill_all()
            if remaining == 0:  # a uid with live processes is not handed to the next jail
                self._slot.release()
        if getattr(self, "_state", None) is not None:
            shutil.rmtree(self._state, ignore_errors=True)

    def __enter__(self) -> BwrapJail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


@functools.lru_cache(maxsize=1)
def bwrap_status() -> tuple[bool, str]:
    """Whether the jail can run on this machine, and if not, why and how to enable it."""
    if shutil.which("bwrap") is None:
        return False, f"bubblewrap (bwrap) is not installed. {ENABLE_HINT}"
    folder = Path(tempfile.mkdtemp(prefix="ale-jail-probe-"))
    try:
        with BwrapJail(folder) as jail:
            result = jail.run(["/bin/sh", "-c", "test -w . && echo ok"], cwd=folder, timeout=60.0)
    except (OSError, RuntimeError) as exc:
        return False, f"bubblewrap could not start: {exc}. {ENABLE_HINT}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if result.returncode == 0 and result.stdout.strip() == "ok":
        return True, "bubblewrap works"
    detail = (result.stderr or result.stdout).strip()[-400:] or f"exit status {result.returncode}"
    return False, f"bubblewrap cannot create its sandbox here ({detail}). {ENABLE_HINT}"


def make_jail(sandbox: str, workspace: Path, display: str | None = None, hide_paths: list[Path] | None = None,
              limits: Limits | None = None) -> Jail:
    """The episode's jail: bubblewrap, or with sandbox="none" (asked for explicitly) the unjailed runner."""
    if sandbox == "none":
        return NoJail(Path(workspace), display=display, limits=limits)
    if sandbox != "bwrap":
        raise ValueError(f'sandbox must be "bwrap" or "none", got {sandbox!r}')
    usable, reason = bwrap_status()
    if not usable:
        raise RuntimeError(f"the bubblewrap sandbox cannot run here: {reason}")
    return BwrapJail(Path(workspace), display=display, hide_paths=list(hide_paths or []), limits=limits)
