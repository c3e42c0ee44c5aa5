"""Static inputs of the bundled tasks; `<slug>/hidden/` holds what the agent must never see.

Installed as `ale_gym.task_data` so tasks find their data in a wheel as in a checkout.
"""
