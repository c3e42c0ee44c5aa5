"""ale_gym: Agents' Last Exam professional workflows as Gymnasium environments.

Importing the package registers every task folder (bundled, and those on ALE_GYM_TASK_PATH) as
`ALE/<Name>-v<k>`, so `gymnasium.make("ALE/CNC-Toolpath-v0")` works after `import ale_gym`.
"""

from ale_gym import actions
from ale_gym.tasks.registry import register_all

__version__ = "0.1.0"
__all__ = ["actions", "register_all", "__version__"]

register_all()
