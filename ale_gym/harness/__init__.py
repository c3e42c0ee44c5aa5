"""Running many episodes: agents, runners, recording and reports."""
