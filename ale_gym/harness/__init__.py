"""Running many episodes: agents, local and Ray runners, trajectory recording, validation and reports.

The `ale-gym` command is a thin front over these functions; each is usable from Python on its own.
"""

from ale_gym.harness.agents import Agent, load_agent
from ale_gym.harness.recorder import TrajectoryRecorder, read_trajectory
from ale_gym.harness.report import write_report
from ale_gym.harness.runner import evaluate
from ale_gym.harness.validate import validate

__all__ = ["Agent", "TrajectoryRecorder", "evaluate", "load_agent", "read_trajectory", "validate", "write_report"]
