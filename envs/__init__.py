"""The bundled tasks: one folder per task, each with task.toml, task.py and README.md.

Installed as `ale_gym.envs` so the registry finds the folders in a wheel as in a checkout.
"""
