"""Interrupt controllers (GICv2, GICv2m)."""
