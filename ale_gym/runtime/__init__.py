"""The computer an agent works on, one per episode: workspace, jail, shell, Python, desktop."""
