"""Installing from a wheel into a fresh virtual environment, and using it from another directory."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from ale_gym.tasks.registry import all_entries, register_all

from conftest import TASK_PACK

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, gymnasium as gym
import ale_gym
from ale_gym.tasks.registry import all_entries
env = gym.make("ALE/Word-Stats-v0", sandbox="none")
obs, info = env.reset(seed=5)
env.close()
print(json.dumps({"ids": [e.card.id for e in all_entries()], "files": obs["files"], "module": ale_gym.__file__}))
"""


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv_and_registers_every_task(tmp_path):
    wheel_dir = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(ROOT)],
                   check=True, timeout=300, capture_output=True)
    wheel = next(wheel_dir.glob("ale_gym-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = subprocess.run([str(python), "-W", "ignore", "-c", PROBE], cwd=elsewhere, capture_output=True, text=True, timeout=120,
                           env={"ALE_GYM_TASK_PATH": str(TASK_PACK), "PATH": "/usr/bin:/bin"})
    assert probe.returncode == 0, probe.stderr[-2000:]
    result = json.loads(probe.stdout)
    register_all()
    assert sorted(result["ids"]) == sorted(e.card.id for e in all_entries())
    assert result["files"].startswith("text.txt\t")
    assert result["module"].startswith(str(env_dir))  # the wheel's copy, not this checkout
