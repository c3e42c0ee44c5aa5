"""Task registration: cards are validated with the file and field named; extra task folders register."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import pytest

from ale_gym.tasks.card import CardError, parse_card
from ale_gym.tasks.registry import load_entry, register_folder
from ale_gym.tasks.taxonomy import load_taxonomy

from conftest import TASK_PACK


def test_taxonomy_has_13_clusters_and_55_subfields():
    taxonomy = load_taxonomy()
    assert len(taxonomy.clusters) == 13
    assert len(taxonomy.subfields) == 55
    assert taxonomy.tiers == ("near-term", "full-spectrum", "last-exam")


def test_task_pack_is_registered_through_the_variable():
    assert "ALE/Word-Stats-v0" in gym.registry
    assert gym.spec("ALE/Word-Stats-v0").max_episode_steps == 20


def _copy_pack(tmp_path: Path, name: str = "custom_task") -> Path:
    folder = tmp_path / "pack" / name
    shutil.copytree(TASK_PACK / "word_stats", folder)
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("old, new, field", [
    ('subfield = "11.2"', 'subfield = "99.9"', "subfield"),
    ('cluster = "11"', 'cluster = "3"', "cluster"),
    ("weight = 0.4", "weight = 0.5", "milestones.weight"),
    ('id = "ALE/Word-Stats-v0"', 'id = "Word-Stats"', "id"),
    ('requires = ["count"]', 'requires = ["report"]', "milestones.requires"),
    ('requires = ["count"]', 'requires = ["nothing"]', "milestones[top].requires"),
    ('when = "submit"', 'when = "sometimes"', "milestones[2].when"),
    ("max_steps = 20", 'max_steps = "many"', "max_steps"),
    ('tiers = ["near-term", "full-spectrum"]', 'tiers = ["hard"]', "tiers"),
])
def test_bad_cards_name_the_file_and_field(tmp_path, old, new, field):
    folder = _copy_pack(tmp_path)
    _edit(folder / "task.toml", old, new)
    with pytest.raises(CardError) as caught:
        parse_card(folder / "task.toml")
    assert caught.value.field == field
    assert str(folder / "task.toml") in str(caught.value)


def test_a_cycle_is_named(tmp_path):
    folder = _copy_pack(tmp_path)
    _edit(folder / "task.toml", 'id = "count"\ndescription', 'id = "count"\nrequires = ["report"]\ndescription')
    with pytest.raises(CardError, match="cycle"):
        parse_card(folder / "task.toml")


@pytest.mark.parametrize("old, new, field", [
    ("    def oracle(", "    def not_an_oracle(", "WordStats.oracle"),
    ("    def check_top(", "    def check_tops(", "WordStats.check_top"),
    ("class WordStats(Task):", "class WordStats:", "<class>"),
])
def test_task_source_is_checked_at_registration(tmp_path, old, new, field):
    folder = _copy_pack(tmp_path)
    _edit(folder / "task.py", old, new)
    with pytest.raises(CardError) as caught:
        load_entry(folder)
    assert caught.value.field == field
    assert str(folder / "task.py") in str(caught.value)


def test_an_id_cannot_be_claimed_twice(tmp_path):
    folder = _copy_pack(tmp_path)
    with pytest.raises(CardError, match="already registered"):
        register_folder(folder)


def test_extra_task_path_registers_a_lab_task_in_a_fresh_process(tmp_path):
    folder = _copy_pack(tmp_path, "lab_task")
    _edit(folder / "task.toml", "ALE/Word-Stats-v0", "ALE/Lab-Word-Stats-v3")
    script = textwrap.dedent("""
        import gymnasium as gym
        env = gym.make("ale_gym:ALE/Lab-Word-Stats-v3", sandbox="none")
        obs, info = env.reset(seed=0)
        print(info["task_id"], "text.txt" in obs["files"])
        env.close()
    """)
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, timeout=120,
                            env={"ALE_GYM_TASK_PATH": str(tmp_path / "pack"), "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ALE/Lab-Word-Stats-v3", "True"]


def test_coexists_with_the_arcade_learning_environment():
    ale_py = pytest.importorskip("ale_py")
    script = textwrap.dedent("""
        import warnings
        warnings.simplefilter("error")
        import gymnasium as gym, ale_py, ale_gym
        gym.register_envs(ale_py)
        arcade = gym.make("ALE/Pong-v5")
        arcade.reset(seed=0)
        arcade.close()
        ours = gym.make("ALE/Word-Stats-v0", sandbox="none")
        print(ours.spec.id, arcade.spec.id)
        ours.close()
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={"ALE_GYM_TASK_PATH": str(TASK_PACK), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ALE/Word-Stats-v0", "ALE/Pong-v5"]
    assert "Warn" not in result.stderr
    assert ale_py.__version__
