"""Timers (the ARM generic timer)."""
