"""Finding task folders, validating them, and registering each as a Gymnasium id.

Registration reads only `task.toml` and the syntax tree of `task.py`, so `import ale_gym` stays fast
and never imports a domain library; the task module itself is imported when an env is made.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import gymnasium

from ale_gym.tasks.base import Task
from ale_gym.tasks.card import CardError, TaskCard, parse_card

TASK_PATH_VARIABLE = "ALE_GYM_TASK_PATH"
ENTRY_POINT = "ale_gym.env:AleEnv"


@dataclass(frozen=True)
class TaskEntry:
    card: TaskCard
    folder: Path
    data_dir: Path


_TASKS: dict[str, TaskEntry] = {}


def builtin_envs_dir() -> Path:
    import ale_gym.envs as bundled

    return Path(bundled.__file__).parent


def builtin_data_dir() -> Path:
    import ale_gym.task_data as bundled

    return Path(bundled.__file__).parent


def task_folders(root: Path) -> list[Path]:
    """A folder holding task.toml is a task; otherwise each of its sub-folders that holds one."""
    if (root / "task.toml").is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "task.toml").is_file())


def extra_task_roots() -> list[Path]:
    value = os.environ.get(TASK_PATH_VARIABLE, "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def _check_task_source(card: TaskCard, folder: Path) -> None:
    """Static checks of task.py: a Task subclass with an oracle, generate and one checker per milestone."""
    source_path = folder / "task.py"
    if not source_path.is_file():
        raise CardError(source_path, "<file>", "task.py is missing")
    try:
        tree = ast.parse(source_path.read_text("utf-8"), filename=str(source_path))
    except SyntaxError as exc:
        raise CardError(source_path, "<file>", f"syntax error at line {exc.lineno}: {exc.msg}") from None
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and any(
        (isinstance(b, ast.Name) and b.id == "Task") or (isinstance(b, ast.Attribute) and b.attr == "Task") for b in n.bases)]
    if len(classes) != 1:
        raise CardError(source_path, "<class>", f"must define exactly one subclass of Task, found {len(classes)}")
    methods = {n.name for n in classes[0].body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for required in ("generate", "oracle"):
        if required not in methods:
            raise CardError(source_path, f"{classes[0].name}.{required}", "is missing (every task ships a generator and an oracle)")
    for spec in card.milestones:
        if f"check_{spec.id}" not in methods:
            raise CardError(source_path, f"{classes[0].name}.check_{spec.id}", f"no checker for milestone '{spec.id}'")


def load_entry(folder: Path, data_root: Path | None = None) -> TaskEntry:
    card = parse_card(folder / "task.toml")
    _check_task_source(card, folder)
    if data_root is None:
        data_root = folder.parent.parent / "task_data"
    return TaskEntry(card=card, folder=folder, data_dir=data_root / folder.name)


def register_folder(folder: Path, data_root: Path | None = None) -> TaskEntry:
    entry = load_entry(folder, data_root)
    known = _TASKS.get(entry.card.id)
    if known is not None and known.folder.resolve() != folder.resolve():
        raise CardError(entry.card.path, "id", f"'{entry.card.id}' is already registered by {known.folder}")
    _TASKS[entry.card.id] = entry
    if entry.card.id not in gymnasium.registry:
        gymnasium.register(
            id=entry.card.id,
            entry_point=ENTRY_POINT,
            kwargs={"task_id": entry.card.id},
            max_episode_steps=entry.card.max_steps,
        )
    return entry


def register_all() -> list[TaskEntry]:
    """Register the bundled tasks and those on ALE_GYM_TASK_PATH."""
    entries = []
    for folder in task_folders(builtin_envs_dir()):
        entries.append(register_folder(folder, builtin_data_dir()))
    for root in extra_task_roots():
        for folder in task_folders(root):
            entries.append(register_folder(folder))
    return entries


def get_entry(task_id: str) -> TaskEntry:
    if task_id not in _TASKS:
        register_all()
    try:
        return _TASKS[task_id]
    except KeyError:
        raise gymnasium.error.UnregisteredEnv(f"no ale_gym task '{task_id}'; known: {sorted(_TASKS)}") from None


def all_entries() -> list[TaskEntry]:
    return [(_TASKS[k]) for k in sorted(_TASKS)]


def import_file(path: Path, module_name: str) -> ModuleType:
    """Import a Python file by path once per process, under `module_name`."""
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    return module


def load_task(entry: TaskEntry) -> Task:
    """Import task.py and instantiate its Task subclass."""
    module_name = f"ale_gym_task_{entry.folder.name}_{abs(hash(str(entry.folder.resolve()))):x}"
    module = import_file(entry.folder / "task.py", module_name)
    classes = [v for v in vars(module).values()
               if isinstance(v, type) and issubclass(v, Task) and v is not Task and v.__module__ == module_name]
    if len(classes) != 1:
        raise CardError(entry.folder / "task.py", "<class>", f"must define exactly one subclass of Task, found {len(classes)}")
    return classes[0](entry.card, entry.data_dir)
