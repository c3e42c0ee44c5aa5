"""Reusable domain checkers shared by tasks."""
