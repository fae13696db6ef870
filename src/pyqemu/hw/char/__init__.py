"""Character devices (UARTs)."""
