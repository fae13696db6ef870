"""Block devices that are not on a bus (flash)."""
