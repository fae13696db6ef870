"""ARM boards (virt)."""
