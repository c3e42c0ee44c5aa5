"""What a task is: card, milestones, registry, and the API a task folder's task.py imports."""

from ale_gym.tasks.base import (
    AppLaunch,
    Cheat,
    CheckContext,
    DeliverableError,
    GenContext,
    Instance,
    RunResult,
    Task,
    Verdict,
    Window,
)
from ale_gym.tasks.card import CardError, MilestoneSpec, TaskCard

__all__ = [
    "AppLaunch", "CardError", "Cheat", "CheckContext", "DeliverableError", "GenContext", "Instance",
    "MilestoneSpec", "RunResult", "Task", "TaskCard", "Verdict", "Window",
]
