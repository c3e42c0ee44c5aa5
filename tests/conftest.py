"""Shared test set-up: the core's task pack is registered through the extra-task-path variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TASK_PACK = Path(__file__).parent / "task_pack"
os.environ["ALE_GYM_TASK_PATH"] = os.pathsep.join(
    p for p in (str(TASK_PACK), os.environ.get("ALE_GYM_TASK_PATH", "")) if p
)

import ale_gym  # noqa: E402  - must come after the variable is set


# The jail is the product's default, so the tests use it; a machine that cannot run bubblewrap fails
# loudly rather than quietly testing the unjailed mode. ALE_GYM_TEST_SANDBOX=none opts out on purpose.
SANDBOX = os.environ.get("ALE_GYM_TEST_SANDBOX", "bwrap")


@pytest.fixture
def sandbox() -> str:
    return SANDBOX


@pytest.fixture
def word_env(sandbox: str):
    import gymnasium as gym

    env = gym.make("ALE/Word-Stats-v0", sandbox=sandbox)
    yield env
    env.close()


@pytest.fixture(autouse=True)
def _quiet_unjailed_warning(request):
    """The unjailed mode warns at every reset by design; tests that use it on purpose accept that."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="sandbox='none'", category=RuntimeWarning)
        yield


__all__ = ["SANDBOX", "TASK_PACK", "ale_gym"]
