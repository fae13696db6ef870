"""Firmware configuration and non-volatile storage."""
